from django.db import models


class UserSource(models.TextChoices):
    LOCAL = "local", "Local"
    LDAP = "ldap", "LDAP"
    OIDC = "oidc", "OIDC"
