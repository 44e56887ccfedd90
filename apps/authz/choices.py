from django.db import models


class PolicyScope(models.TextChoices):
    PLATFORM = "platform", "Platform"
    PROJECT = "project", "Project"


class Effect(models.TextChoices):
    ALLOW = "allow", "Allow"
    DENY = "deny", "Deny"


class SubjectKind(models.TextChoices):
    USER = "user", "User"
    GROUP = "group", "Group"
