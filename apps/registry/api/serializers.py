from django.conf import settings
from rest_framework import serializers

from apps.core.api.fields import TenantSlugRelatedField
from apps.core.api.serializers import TenantSlugField
from apps.projects.models import Project

from ..models import RegistryNamespace, namespace_name_validator
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
