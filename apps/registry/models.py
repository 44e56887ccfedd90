"""Images: registry namespaces, their repositories and tags (TKEStack ``registry.tkestack.io``
Namespace and Repository), stored in a real Docker Registry v2 server for which the portal is
the token service (``apps.registry.token``).

Repository names in the registry keep tenants apart: ``<tenant>/<namespace>/<repository>``
(the repository part may itself hold ``/``). A registry namespace is unique per tenant, so two
tenants may both have a ``team`` namespace, stored under ``acme/team/…`` and ``globex/team/…``.

Authorization paths: ``registrynamespace:<ns>`` and ``registrynamespace:<ns>/repository:<repo>``
(``…/tag:<tag>``). The token service judges them in the platform domain and, for a namespace
that belongs to a project, in the project's domain too.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models

from apps.core.crypto import EncryptedTextField
from apps.core.models import TenantScopedManager, TenantScopedModel, TenantScopedQuerySet
from apps.core.paths import path_expression

from .choices import GarbageCollectionStatus, Visibility

# One path component of a Docker repository name (distribution's reference grammar), without
# the separators a tenant slug cannot hold: lowercase letters and digits, joined by . _ -.
namespace_name_validator = RegexValidator(
    r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$",
    "Use lowercase letters and digits, optionally joined by single '.', '_' or '-' "
    "(a Docker repository path component).",
)
repository_name_validator = RegexValidator(
    r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$",
    "A Docker repository name: path components of lowercase letters and digits joined by "
    "'.', '_', '__' or '-', separated by '/'.",
)


class RegistryNamespace(TenantScopedModel):
    """An image namespace of a tenant (TKEStack registry Namespace): the unit of visibility,
    quota and permission for the repositories under it."""

    name = models.CharField(max_length=63, validators=[namespace_name_validator])
    display_name = models.CharField(max_length=128, blank=True)
    description = models.TextField(blank=True)
    visibility = models.CharField(
        max_length=8,
        choices=Visibility.choices,
        default=Visibility.PRIVATE,
        help_text="public: anyone may pull (anonymous too); private: pull needs pullRepository.",
    )
    project = models.ForeignKey(
        "projects.Project",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="registry_namespaces",
        help_text="The project the namespace serves; the token service also judges pulls and "
        "pushes in the project's domain, so the project's members reach it.",
    )
    storage_quota_bytes = models.BigIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text="Most bytes the namespace's layers may take (empty: no limit).",
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
            models.UniqueConstraint(
                fields=["tenant", "name"], name="registry_namespace_unique_name_per_tenant"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def authz_resource(self) -> str:
        return f"registrynamespace:{self.name}"

    @staticmethod
    def authz_path_expression():
        return path_expression("registrynamespace:", "name")

    def registry_path(self) -> str:
        """The repository-name prefix in the registry: ``<tenant>/<namespace>``."""
        return f"{self.tenant.slug}/{self.name}"


class RepositoryQuerySet(TenantScopedQuerySet):
    tenant_field = "namespace__tenant"


class TagQuerySet(TenantScopedQuerySet):
    tenant_field = "repository__namespace__tenant"


class Repository(models.Model):
    """One image repository in a registry namespace, with its pull and push counts and the
    bytes its tags take (the sum over its distinct tag digests; layers shared between images
    are counted once per image, so this is an upper bound of the storage it holds)."""

    namespace = models.ForeignKey(
        RegistryNamespace, on_delete=models.CASCADE, related_name="repositories"
    )
    name = models.CharField(max_length=255, validators=[repository_name_validator])
    description = models.TextField(blank=True)
    pull_count = models.PositiveBigIntegerField(default=0)
    push_count = models.PositiveBigIntegerField(default=0)
    size = models.PositiveBigIntegerField(
        default=0, help_text="Bytes of its distinct tagged images (manifest, config, layers)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = models.Manager.from_queryset(RepositoryQuerySet)()

    class Meta:
        ordering = ["namespace", "name"]
        verbose_name_plural = "repositories"
        constraints = [
            models.UniqueConstraint(
                fields=["namespace", "name"], name="registry_repository_unique_name_per_namespace"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.namespace.name}/{self.name}"

    @property
    def authz_resource(self) -> str:
        return f"registrynamespace:{self.namespace.name}/repository:{self.name}"

    @staticmethod
    def authz_path_expression():
        return path_expression("registrynamespace:", "namespace__name", "/repository:", "name")

    def registry_name(self) -> str:
        """The repository's name in the registry: ``<tenant>/<namespace>/<repository>``."""
        return f"{self.namespace.registry_path()}/{self.name}"


class Tag(models.Model):
    """A tag of a repository: the manifest (or image index, for multi-arch images) it names."""

    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(max_length=128)
    digest = models.CharField(max_length=135, help_text="sha256:… of the manifest or index.")
    media_type = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField(default=0)
    architectures = models.JSONField(
        default=list, blank=True, help_text='e.g. ["amd64", "arm64"] for a multi-arch image.'
    )
    pushed_at = models.DateTimeField()
    pushed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = models.Manager.from_queryset(TagQuerySet)()

    class Meta:
        ordering = ["repository", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["repository", "name"], name="registry_tag_unique_name_per_repository"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.repository}:{self.name}"

    @property
    def authz_resource(self) -> str:
        return f"{self.repository.authz_resource}/tag:{self.name}"

    @staticmethod
    def authz_path_expression():
        return path_expression(
            "registrynamespace:",
            "repository__namespace__name",
            "/repository:",
            "repository__name",
            "/tag:",
            "name",
        )


class SigningKey(models.Model):
    """The key the portal signs registry tokens with (global, one active row). Its private
    half is encrypted at rest; ``certificate`` is the self-signed certificate the registry is
    given as its ``rootcertbundle``; ``kid`` is its libtrust key id."""

    name = models.CharField(max_length=32, unique=True, default="default")
    kid = models.CharField(max_length=64)
    private_key = EncryptedTextField(help_text="PEM (PKCS#8), encrypted at rest.")
    certificate = models.TextField(help_text="PEM; the registry's rootcertbundle.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.kid})"


class RegistryEvent(models.Model):
    """The id of a registry notification event already applied: the registry redelivers an
    envelope until it is acknowledged, and a redelivered event must not count twice. Rows older
    than ``REGISTRY_EVENTS_RETENTION`` seconds are purged as new envelopes arrive."""

    event_id = models.CharField(max_length=64, unique=True)
    action = models.CharField(max_length=16)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.action} {self.event_id}"


class GarbageCollection(models.Model):
    """One run of the registry's garbage collector (``docker-registry garbage-collect
    --delete-untagged``) over the storage every tenant shares, with what it reported."""

    status = models.CharField(
        max_length=16,
        choices=GarbageCollectionStatus.choices,
        default=GarbageCollectionStatus.PENDING,
    )
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    manifests_deleted = models.PositiveIntegerField(default=0)
    blobs_marked = models.PositiveIntegerField(default=0)
    blobs_deleted = models.PositiveIntegerField(default=0)
    bytes_before = models.PositiveBigIntegerField(null=True, blank=True)
    bytes_after = models.PositiveBigIntegerField(null=True, blank=True)
    bytes_freed = models.BigIntegerField(
        null=True, blank=True, help_text="Storage size before minus after (REGISTRY_STORAGE_DIR)."
    )
    output = models.TextField(blank=True, help_text="What the garbage collector printed.")
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "garbage collection"

    def __str__(self) -> str:
        return f"garbage collection {self.pk} ({self.status})"

    @property
    def authz_resource(self) -> str:
        return "*"
