"""Tenants: the top-level isolation boundary of the portal."""

from django.core.validators import RegexValidator
from django.db import models

slug_validator = RegexValidator(
    r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$",
    "Use 3–32 lowercase letters, digits and hyphens, starting with a letter.",
)


class Tenant(models.Model):
    """An organisation using the portal. Users, clusters, projects … belong to exactly one;
    nothing of one tenant is visible to another."""

    slug = models.CharField(max_length=32, unique=True, validators=[slug_validator])
    display_name = models.CharField(max_length=128)
    is_active = models.BooleanField(
        default=True, help_text="Users of an inactive tenant cannot sign in or use API keys."
    )
    authz_version = models.BigIntegerField(
        default=0,
        editable=False,
        help_text="Bumped on every change to the tenant's policies, roles, bindings or groups; "
        "every process rebuilds its compiled rules when it sees a new value.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug

    def save(self, *args, **kwargs):
        # authz_version is only ever written by apps.authz.enforcer.bump_version(); a save()
        # from a stale instance must not put an old version back.
        if not self._state.adding and kwargs.get("update_fields") is None:
            kwargs["update_fields"] = [
                f.attname
                for f in self._meta.concrete_fields
                if not f.primary_key and f.attname != "authz_version"
            ]
        super().save(*args, **kwargs)

    @property
    def authz_resource(self) -> str:
        return f"tenant:{self.slug}"

    @staticmethod
    def authz_path_expression():
        from apps.core.paths import path_expression

        return path_expression("tenant:", "slug")
