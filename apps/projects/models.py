"""Business: projects that span clusters (TKEStack ``business.tkestack.io`` Project and
Namespace).

A project owns namespaces on several clusters. How much it may use on each cluster is one
:class:`ProjectCluster` row (``hard``: resource name → Kubernetes quantity); a sub-project's
quota comes out of its parent's. A :class:`ProjectNamespace` is one Kubernetes namespace the
project owns: it carries its own hard quota (the cluster's ResourceQuota) and the last seen
usage. Every namespace-scoped authorization decision is made in the domain of the project that
owns the namespace (``apps.authz.engine.TenantIndex.domain_of``), so creating, moving or deleting
a row here changes who may do what: the services bump the tenant's policy version.
"""

from __future__ import annotations

import secrets
import string

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

from apps.core.models import TenantScopedManager, TenantScopedModel
from apps.core.paths import path_expression

from .choices import NamespacePhase, ProjectPhase

_ALPHABET = string.ascii_lowercase + string.digits

project_name_validator = RegexValidator(
    r"^prj-[a-z0-9]([a-z0-9-]{0,58}[a-z0-9])?$",
    "Use prj- followed by lowercase letters, digits and hyphens (at most 63 characters).",
)
namespace_name_validator = RegexValidator(
    r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$",
    "A Kubernetes namespace name: up to 63 lowercase letters, digits and hyphens, starting "
    "and ending with a letter or digit.",
)


def generate_project_name() -> str:
    return "prj-" + "".join(secrets.choice(_ALPHABET) for _ in range(8))


class Project(TenantScopedModel):
    """A tenant's unit of work: namespaces on several clusters, members, quotas."""

    name = models.CharField(
        max_length=63,
        default=generate_project_name,
        validators=[project_name_validator],
        help_text="prj-xxxxxxxx; the authorization domain of the project's bindings.",
    )
    display_name = models.CharField(max_length=128)
    description = models.TextField(blank=True)
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
        help_text="A sub-project's quota on each cluster comes out of its parent's.",
    )
    phase = models.CharField(
        max_length=16, choices=ProjectPhase.choices, default=ProjectPhase.ACTIVE
    )
    message = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantScopedManager()

    class Meta:
        ordering = ["name"]
        constraints = [
            # Project names are authorization domains and appear in namespace labels: unique
            # platform-wide, like cluster names.
            models.UniqueConstraint(fields=["name"], name="projects_project_unique_name"),
            models.UniqueConstraint(
                fields=["tenant", "display_name"],
                name="projects_project_unique_display_name_per_tenant",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.display_name})"

    # Read in its own domain (only: a deny bound there hides it from lists too); changed
    # (quota, deletion) in the platform's.
    authz_project_field = "name"
    authz_project_reads_only = True
    authz_project_exclusive = True

    @property
    def authz_resource(self) -> str:
        return f"project:{self.name}"

    @staticmethod
    def authz_path_expression():
        return path_expression("project:", "name")


class ProjectCluster(models.Model):
    """The project's hard quota on one cluster (TKEStack ``spec.clusters[c].hard``). A project
    spans exactly the clusters it has a row for."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="clusters")
    cluster = models.ForeignKey(
        "clusters.Cluster", on_delete=models.CASCADE, related_name="project_quotas"
    )
    hard = models.JSONField(
        default=dict,
        blank=True,
        help_text='Resource name → quantity, e.g. {"requests.cpu": "8", "requests.memory": '
        '"16Gi", "pods": "100", "requests.nvidia.com/gpu": "2"}.',
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["project", "cluster"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "cluster"], name="projects_projectcluster_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.project.name} on {self.cluster.name}"


class ProjectNamespace(TenantScopedModel):
    """A Kubernetes namespace owned by a project (TKEStack business ``Namespace``, named
    ``<cluster>-<namespace>`` there). One namespace of a cluster belongs to one project."""

    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="namespaces")
    cluster = models.ForeignKey(
        "clusters.Cluster", on_delete=models.CASCADE, related_name="project_namespaces"
    )
    namespace = models.CharField(max_length=63, validators=[namespace_name_validator])
    hard = models.JSONField(default=dict, blank=True)
    used = models.JSONField(
        default=dict, blank=True, help_text="Last seen ResourceQuota status.used."
    )
    phase = models.CharField(
        max_length=16, choices=NamespacePhase.choices, default=NamespacePhase.PENDING
    )
    message = models.TextField(blank=True)
    reconciled_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantScopedManager()

    class Meta:
        ordering = ["project", "cluster", "namespace"]
        constraints = [
            models.UniqueConstraint(
                fields=["cluster", "namespace"], name="projects_namespace_one_owner"
            )
        ]

    def __str__(self) -> str:
        return f"{self.cluster.name}/{self.namespace} ({self.project.name})"

    authz_project_field = "project__name"
    authz_project_exclusive = True  # judged in its project's domain only, like its path

    @property
    def authz_resource(self) -> str:
        return f"project:{self.project.name}/cluster:{self.cluster.name}/namespace:{self.namespace}"

    @staticmethod
    def authz_path_expression():
        return path_expression(
            "project:", "project__name", "/cluster:", "cluster__name", "/namespace:", "namespace"
        )


class NamespaceReconcile(models.Model):
    """The periodic namespace reconcile's state for one cluster: when it last ran, how often in
    a row the cluster could not be reached, and when to try again (exponential back-off). A run
    holds a lease so two workers never reconcile the same cluster at once."""

    cluster = models.OneToOneField(
        "clusters.Cluster", on_delete=models.CASCADE, related_name="namespace_reconcile"
    )
    failures = models.PositiveIntegerField(
        default=0, help_text="Consecutive runs that could not reach the cluster."
    )
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    leased_until = models.DateTimeField(null=True, blank=True)
    message = models.TextField(blank=True)

    class Meta:
        ordering = ["cluster"]

    def __str__(self) -> str:
        return f"namespace reconcile of {self.cluster.name}"
