from django.db import models


class ProjectPhase(models.TextChoices):
    ACTIVE = "Active", "Active"
    PENDING = "Pending", "Pending"
    TERMINATING = "Terminating", "Terminating"
    FAILED = "Failed", "Failed"


class NamespacePhase(models.TextChoices):
    PENDING = "Pending", "Pending"
    AVAILABLE = "Available", "Available"
    FAILED = "Failed", "Failed"
    TERMINATING = "Terminating", "Terminating"
