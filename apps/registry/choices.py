from django.db import models


class Visibility(models.TextChoices):
    """Who may pull from an image namespace: everyone (anonymous too) or whom policy allows."""

    PUBLIC = "public", "Public"
    PRIVATE = "private", "Private"


class GarbageCollectionStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
