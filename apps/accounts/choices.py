from django.db import models


class UserSource(models.TextChoices):
    LOCAL = "local", "Local"
    LDAP = "ldap", "LDAP"
    OIDC = "oidc", "OIDC"


class ProviderType(models.TextChoices):
    """How an identity provider checks who someone is."""

    LOCAL = "local", "Local accounts"
    LDAP = "ldap", "LDAP"
    OIDC = "oidc", "OpenID Connect"


class DirectoryState(models.TextChoices):
    """What the identity provider last said about a user it vouches for."""

    NONE = "", "Not a directory user"
    PRESENT = "present", "Present"
    MISSING = "missing", "Removed from the directory"
    DISABLED = "disabled", "Disabled in the directory"
    UNREACHABLE = "unreachable", "Directory unreachable at the last check"
