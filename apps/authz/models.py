"""Policies, roles and bindings: TKEStack's permission model as rows."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

from apps.core.models import TenantScopedManager, TenantScopedModel
from apps.core.paths import path_expression

from .choices import PolicyScope

ALL_DOMAINS = "*"
name_validator = RegexValidator(
    r"^[a-z0-9][a-z0-9-]{0,62}$", "Use up to 63 lowercase letters, digits and hyphens."
)
domain_validator = RegexValidator(
    r"^(\*|prj-[a-z0-9-]{1,60})$", "Use * (platform-wide) or a project id such as prj-web."
)


class NamedAuthzObject(TenantScopedModel):
    """Shared shape of policies and roles: a per-tenant name, addressed in authorization as
    ``<kind>:<name>`` (``authz_prefix``)."""

    authz_prefix = ""

    name = models.CharField(max_length=63, validators=[name_validator])
    display_name = models.CharField(max_length=128, blank=True)
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantScopedManager()

    class Meta:
        abstract = True
        ordering = ["name"]

    def __str__(self) -> str:
        # The name first: it is what the README, the API, bindings and statements call it
        # (``project-owner``); the display name (TKEStack's ``ProjectAdmin``) only beside it.
        if self.display_name and self.display_name != self.name:
            return f"{self.name} ({self.display_name})"
        return self.name

    @property
    def authz_resource(self) -> str:
        return f"{self.authz_prefix}:{self.name}"

    @classmethod
    def authz_path_expression(cls):
        return path_expression(f"{cls.authz_prefix}:", "name")


class Policy(NamedAuthzObject):
    """A named set of statements ``{actions[], resources[], effect}``. Predefined policies are
    created with the tenant and cannot be edited or deleted."""

    authz_prefix = "policy"

    category = models.CharField(max_length=32, blank=True)
    scope = models.CharField(
        max_length=16, choices=PolicyScope.choices, default=PolicyScope.PLATFORM
    )
    statements = models.JSONField(default=list)
    predefined = models.BooleanField(default=False, editable=False)

    class Meta(NamedAuthzObject.Meta):
        verbose_name_plural = "policies"
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "name"], name="authz_policy_unique_name_per_tenant"
            )
        ]


class Role(NamedAuthzObject):
    """A set of policies, bound as one."""

    authz_prefix = "role"

    policies = models.ManyToManyField(Policy, related_name="roles", blank=True)

    class Meta(NamedAuthzObject.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "name"], name="authz_role_unique_name_per_tenant"
            )
        ]


class Binding(TenantScopedModel):
    """Gives a user or a group a policy or a role, platform-wide (domain ``*``) or in one
    project (domain ``prj-…``)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="bindings",
    )
    group = models.ForeignKey(
        "accounts.Group", on_delete=models.CASCADE, null=True, blank=True, related_name="bindings"
    )
    policy = models.ForeignKey(
        Policy, on_delete=models.CASCADE, null=True, blank=True, related_name="bindings"
    )
    role = models.ForeignKey(
        Role, on_delete=models.CASCADE, null=True, blank=True, related_name="bindings"
    )
    domain = models.CharField(max_length=64, default=ALL_DOMAINS, validators=[domain_validator])
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantScopedManager()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(user__isnull=False) & Q(group__isnull=True))
                | (Q(user__isnull=True) & Q(group__isnull=False)),
                name="authz_binding_exactly_one_subject",
            ),
            models.CheckConstraint(
                condition=(Q(policy__isnull=False) & Q(role__isnull=True))
                | (Q(policy__isnull=True) & Q(role__isnull=False)),
                name="authz_binding_exactly_one_target",
            ),
            models.UniqueConstraint(
                fields=["tenant", "user", "group", "policy", "role", "domain"],
                nulls_distinct=False,
                name="authz_binding_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subject_label} → {self.target_label} in {self.domain}"

    @property
    def subject_label(self) -> str:
        return f"user:{self.user.username}" if self.user_id else f"group:{self.group.name}"

    @property
    def target_label(self) -> str:
        return f"policy:{self.policy.name}" if self.policy_id else f"role:{self.role.name}"

    @property
    def authz_resource(self) -> str:
        return f"binding:{self.pk}"

    @staticmethod
    def authz_path_expression():
        return path_expression("binding:", "id")
