"""Helm charts: chart groups of a tenant (TKEStack ``registry.tkestack.io`` ChartGroup), their
charts and versions with the archives, and the releases the portal installs from them.

Chart groups are served ChartMuseum-compatibly under ``/chart/`` (``index.yaml``, archives,
``/chart/api/<tenant>/<group>/charts``). Archives live in the database, in their own table
(:class:`ChartArchive`) so that listing versions never reads them; they are capped by
``CHART_MAX_ARCHIVE_BYTES``.

A release (:class:`Release`) is a chart version installed into a namespace of a cluster: the
Helm SDK renders it, the portal applies the objects with server-side apply, and every install,
upgrade and rollback is one :class:`ReleaseRevision` holding the values and the rendered
manifest, so a rollback re-applies an earlier revision's manifest.

Authorization paths: ``chartgroup:<group>``, ``chartgroup:<group>/chart:<chart>`` (…
``/version:<version>``); releases ``cluster:<c>/namespace:<ns>/release:<name>``.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

from apps.core.crypto import EncryptedTextField
from apps.core.models import TenantScopedManager, TenantScopedModel
from apps.core.paths import path_expression

from .choices import ChartVisibility, ReleaseStatus, RevisionStatus

group_name_validator = RegexValidator(
    r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$",
    "Use lowercase letters and digits, optionally joined by single '.', '_' or '-'.",
)
# Helm's chart name rule (helm lint): lowercase letters, digits and dashes (dots and
# underscores are tolerated by Helm but break template names, so they are refused here).
chart_name_validator = RegexValidator(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
    "A chart name: lowercase letters, digits and '-', starting and ending with a letter or digit.",
)
# A release name is a DNS-1123 label of at most 53 characters (Helm's rule).
release_name_validator = RegexValidator(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
    "A release name: lowercase letters, digits and '-', starting and ending with a letter or "
    "digit (at most 53 characters).",
)


class ChartGroup(TenantScopedModel):
    """A tenant's chart repository (TKEStack ChartGroup): the unit of visibility and of
    permission for the charts under it. An imported group mirrors a third-party Helm
    repository (``import_url``), resynced periodically."""

    name = models.CharField(max_length=63, validators=[group_name_validator])
    display_name = models.CharField(max_length=128, blank=True)
    description = models.TextField(blank=True)
    visibility = models.CharField(
        max_length=8, choices=ChartVisibility.choices, default=ChartVisibility.USER
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="For visibility user: who reads it without a policy (default: its creator).",
    )
    project = models.ForeignKey(
        "projects.Project",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="chart_groups",
        help_text="For visibility project: whose members read it (and whose policies apply).",
    )
    import_url = models.URLField(
        blank=True,
        max_length=1024,
        help_text="A third-party Helm repository this group mirrors (its index.yaml's base URL); "
        "empty for a group charts are uploaded to.",
    )
    import_username = models.CharField(max_length=255, blank=True)
    import_password = EncryptedTextField(blank=True, default="", help_text="Encrypted at rest.")
    last_synced_at = models.DateTimeField(null=True, blank=True)
    sync_message = models.TextField(
        blank=True, help_text="What the last import or resync did, or why it failed."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantScopedManager()

    class Meta:
        ordering = ["tenant", "name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="chart_group_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def authz_resource(self) -> str:
        return f"chartgroup:{self.name}"

    @staticmethod
    def authz_path_expression():
        return path_expression("chartgroup:", "name")


class Chart(models.Model):
    """One chart of a group, with what its latest version says of it."""

    group = models.ForeignKey(ChartGroup, on_delete=models.CASCADE, related_name="charts")
    name = models.CharField(max_length=63, validators=[chart_name_validator])
    description = models.TextField(blank=True)
    icon = models.URLField(blank=True, max_length=1024)
    latest_version = models.CharField(max_length=64, blank=True)
    pull_count = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["group", "name"]
        constraints = [
            models.UniqueConstraint(fields=["group", "name"], name="chart_unique_name_per_group"),
        ]

    def __str__(self) -> str:
        return f"{self.group.name}/{self.name}"

    @property
    def authz_resource(self) -> str:
        return f"chartgroup:{self.group.name}/chart:{self.name}"


class ChartVersion(models.Model):
    """One version of a chart: its ``Chart.yaml`` (``metadata``), ``values.yaml`` text and the
    archive's digest (sha256, what ``index.yaml`` carries)."""

    chart = models.ForeignKey(Chart, on_delete=models.CASCADE, related_name="versions")
    version = models.CharField(max_length=64, help_text="SemVer 2, as Chart.yaml has it.")
    app_version = models.CharField(max_length=128, blank=True)
    description = models.TextField(blank=True)
    api_version = models.CharField(max_length=8, default="v2", help_text="Chart.yaml apiVersion.")
    metadata = models.JSONField(default=dict, help_text="Chart.yaml as parsed.")
    values = models.TextField(blank=True, help_text="values.yaml, as in the archive.")
    digest = models.CharField(max_length=64, help_text="sha256 (hex) of the archive.")
    size = models.PositiveIntegerField(default=0, help_text="Bytes of the archive.")
    has_provenance = models.BooleanField(default=False)
    source_url = models.URLField(
        blank=True, max_length=1024, help_text="Where an imported version was downloaded from."
    )
    pushed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["chart", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["chart", "version"], name="chart_version_unique_per_chart"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.chart}-{self.version}"

    @property
    def filename(self) -> str:
        return f"{self.chart.name}-{self.version}.tgz"


class ChartArchive(models.Model):
    """The bytes of a chart version (``.tgz``) and of its provenance file (``.prov``)."""

    version = models.OneToOneField(
        ChartVersion, on_delete=models.CASCADE, primary_key=True, related_name="archive"
    )
    data = models.BinaryField()
    provenance = models.BinaryField(null=True, blank=True)

    def __str__(self) -> str:
        return str(self.version)


class Release(TenantScopedModel):
    """A chart installed into a namespace of a cluster by the portal."""

    cluster = models.ForeignKey(
        "clusters.Cluster", on_delete=models.CASCADE, related_name="releases"
    )
    namespace = models.CharField(max_length=63)
    name = models.CharField(max_length=53, validators=[release_name_validator])
    project = models.ForeignKey(
        "projects.Project",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="releases",
        help_text="The project whose namespace the release is in (when it is in one).",
    )
    chart_version = models.ForeignKey(
        ChartVersion,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="releases",
        help_text="The chart version of the live revision (empty once that version is deleted; "
        "the revision keeps its name and version).",
    )
    chart_name = models.CharField(max_length=63)
    chart_version_name = models.CharField(max_length=64)
    status = models.CharField(
        max_length=20, choices=ReleaseStatus.choices, default=ReleaseStatus.PENDING_INSTALL
    )
    revision = models.PositiveIntegerField(default=0, help_text="The live revision's number.")
    message = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantScopedManager()

    class Meta:
        ordering = ["tenant", "cluster", "namespace", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["cluster", "namespace", "name"], name="release_unique_name_per_namespace"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def authz_resource(self) -> str:
        return f"cluster:{self.cluster.name}/namespace:{self.namespace}/release:{self.name}"

    @staticmethod
    def authz_path_expression():
        return path_expression(
            "cluster:", "cluster__name", "/namespace:", "namespace", "/release:", "name"
        )


class ReleaseRevision(models.Model):
    """One install, upgrade or rollback of a release: the values given, the rendered manifest
    that was applied, and the outcome."""

    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="revisions")
    revision = models.PositiveIntegerField()
    chart_name = models.CharField(max_length=63)
    chart_version_name = models.CharField(max_length=64)
    app_version = models.CharField(max_length=128, blank=True)
    values = EncryptedTextField(
        blank=True,
        default="",
        help_text="The user-supplied values (JSON), encrypted at rest: they may hold passwords.",
    )
    manifest = EncryptedTextField(
        blank=True,
        default="",
        help_text="The rendered objects as applied (YAML), encrypted at rest: Secrets are in it.",
    )
    status = models.CharField(max_length=12, choices=RevisionStatus.choices)
    description = models.TextField(blank=True, help_text="Install complete, Upgrade failed: …")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["release", "-revision"]
        constraints = [
            models.UniqueConstraint(
                fields=["release", "revision"], name="release_revision_unique_number"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.release} #{self.revision}"
