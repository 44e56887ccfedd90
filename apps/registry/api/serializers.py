from django.conf import settings
from rest_framework import serializers

from apps.core.api.fields import TenantSlugRelatedField
from apps.core.api.serializers import TenantSlugField
from apps.projects.models import Project

from ..models import (
    GarbageCollection,
    RegistryNamespace,
    Repository,
    Tag,
    namespace_name_validator,
)
from ..token import namespace_usage


class RegistryNamespaceSerializer(serializers.ModelSerializer):
    """An image namespace: repositories are pushed to ``<registry>/<tenant>/<name>/<repo>``."""

    tenant = TenantSlugField()
    name = serializers.CharField(
        max_length=63,
        validators=[namespace_name_validator],
        help_text="Lowercase letters and digits joined by . _ -; cannot be changed.",
    )
    project = TenantSlugRelatedField(
        slug_field="name",
        queryset=Project.objects.all(),
        required=False,
        allow_null=True,
        help_text="The project the namespace serves (its members' policies then apply).",
    )
    repository_prefix = serializers.SerializerMethodField(
        help_text="What image names start with: <registry host>/<tenant>/<namespace>/."
    )
    repository_count = serializers.SerializerMethodField()
    storage_used_bytes = serializers.SerializerMethodField(
        help_text="Bytes of its repositories' tagged images, each image counted whole (layers "
        "shared between images count once per image: an upper bound). Pushes are refused once "
        "this reaches storage_quota_bytes."
    )

    class Meta:
        model = RegistryNamespace
        fields = [
            "id",
            "name",
            "tenant",
            "display_name",
            "description",
            "visibility",
            "project",
            "storage_quota_bytes",
            "repository_prefix",
            "repository_count",
            "storage_used_bytes",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]

    def get_repository_prefix(self, obj) -> str:
        host = settings.REGISTRY_HOST or "<registry>"
        return f"{host}/{obj.tenant.slug}/{obj.name}/"

    def get_repository_count(self, obj) -> int:
        count = getattr(obj, "repository_total", None)
        return count if count is not None else obj.repositories.count()

    def get_storage_used_bytes(self, obj) -> int:
        if hasattr(obj, "storage_used"):
            return int(obj.storage_used or 0)
        return namespace_usage(obj)

    def validate_name(self, value):
        if self.instance is not None and value != self.instance.name:
            raise serializers.ValidationError("A namespace cannot be renamed.")
        return value


def _image_prefix(repository) -> str:
    host = settings.REGISTRY_HOST or "<registry>"
    namespace = repository.namespace
    return f"{host}/{namespace.tenant.slug}/{namespace.name}/{repository.name}"


class RepositorySerializer(serializers.ModelSerializer):
    """An image repository: ``<registry>/<tenant>/<namespace>/<name>``, made by pushes."""

    namespace = serializers.CharField(source="namespace.name", read_only=True)
    image = serializers.SerializerMethodField(
        help_text="The image name without tag: <registry host>/<tenant>/<namespace>/<name>."
    )
    tag_count = serializers.SerializerMethodField()

    class Meta:
        model = Repository
        fields = [
            "id",
            "name",
            "namespace",
            "description",
            "image",
            "tag_count",
            "pull_count",
            "push_count",
            "size",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_image(self, obj) -> str:
        return _image_prefix(obj)

    def get_tag_count(self, obj) -> int:
        count = getattr(obj, "tag_total", None)
        return count if count is not None else obj.tags.count()


class TagSerializer(serializers.ModelSerializer):
    """A tag: the manifest (or multi-arch index) it names, and how to pull it."""

    repository = serializers.CharField(source="repository.name", read_only=True)
    namespace = serializers.CharField(source="repository.namespace.name", read_only=True)
    pushed_by = serializers.SerializerMethodField(help_text="<tenant>/<username> of the pusher.")
    pull_command = serializers.SerializerMethodField(
        help_text="docker pull <registry>/<tenant>/<namespace>/<repository>:<tag>"
    )
    digest_reference = serializers.SerializerMethodField(
        help_text="<registry>/<tenant>/<namespace>/<repository>@<digest>: this exact image."
    )

    class Meta:
        model = Tag
        fields = [
            "id",
            "name",
            "repository",
            "namespace",
            "digest",
            "media_type",
            "size",
            "architectures",
            "pushed_at",
            "pushed_by",
            "pull_command",
            "digest_reference",
        ]
        read_only_fields = fields

    def get_pushed_by(self, obj) -> str | None:
        return str(obj.pushed_by) if obj.pushed_by_id else None

    def get_pull_command(self, obj) -> str:
        return f"docker pull {_image_prefix(obj.repository)}:{obj.name}"

    def get_digest_reference(self, obj) -> str:
        return f"{_image_prefix(obj.repository)}@{obj.digest}"


class GarbageCollectionSerializer(serializers.ModelSerializer):
    """One garbage collection of the registry's storage and what it reported."""

    triggered_by = serializers.SerializerMethodField()

    class Meta:
        model = GarbageCollection
        fields = [
            "id",
            "status",
            "triggered_by",
            "created_at",
            "started_at",
            "finished_at",
            "blobs_marked",
            "blobs_deleted",
            "manifests_deleted",
            "bytes_before",
            "bytes_after",
            "bytes_freed",
            "output",
            "error",
        ]
        read_only_fields = fields

    def get_triggered_by(self, obj) -> str | None:
        return str(obj.triggered_by) if obj.triggered_by_id else None
