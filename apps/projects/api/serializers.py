from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.core.api.fields import TenantSlugRelatedField
from apps.core.api.serializers import TenantSlugField

from ..models import Project, project_name_validator


@extend_schema_field(OpenApiTypes.OBJECT)
class ClusterQuotasField(serializers.Field):
    """The project's hard quota per cluster it spans: ``{"cls-a": {"hard": {"requests.cpu":
    "8", "pods": "100"}}}`` (TKEStack ``spec.clusters``). Validated by the service, which names
    ``clusters.<cls>.hard.<resource>`` in its errors."""

    def __init__(self, **kwargs):
        kwargs.setdefault(
            "help_text",
            'Cluster name → {"hard": {resource: quantity}}, e.g. {"cls-a": '
            '{"hard": {"requests.cpu": "8", "pods": "100", "requests.nvidia.com/gpu": "2"}}}.',
        )
        super().__init__(**kwargs)

    def to_representation(self, value):
        return {row.cluster.name: {"hard": row.hard} for row in value.all()}

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError('An object: cluster name → {"hard": {...}}.')
        return data


class ProjectSerializer(serializers.ModelSerializer):
    """A project: a tenant's unit of work spanning clusters, with a hard quota on each."""

    tenant = TenantSlugField()
    name = serializers.CharField(
        required=False,
        max_length=63,
        validators=[project_name_validator],
        help_text="prj-xxxxxxxx; generated when not given; cannot be changed.",
    )
    parent = TenantSlugRelatedField(
        slug_field="name",
        queryset=Project.objects.all(),
        required=False,
        allow_null=True,
        help_text="The parent project: this one's quota comes out of its quota.",
    )
    clusters = ClusterQuotasField(required=False)

    class Meta:
        model = Project
        fields = [
            "name",
            "tenant",
            "display_name",
            "description",
            "parent",
            "clusters",
            "phase",
            "message",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["phase", "message", "created_at", "updated_at"]
        validators = []  # uniqueness and quotas: the service says which field, and why

    def validate(self, attrs):
        if self.instance is not None:
            if "name" in attrs and attrs["name"] != self.instance.name:
                raise serializers.ValidationError({"name": "A project's name cannot be changed."})
            if "clusters" in attrs:
                raise serializers.ValidationError(
                    {
                        "clusters": "Change the quota with PUT or PATCH "
                        f"/api/v1/projects/{self.instance.name}/quota/."
                    }
                )
        return attrs


class QuotaSerializer(serializers.Serializer):
    """Per cluster: ``hard`` (the project's quota), ``allocated`` (its namespaces' and
    sub-projects' quotas), ``used`` (its namespaces' last seen usage) and ``left`` (hard −
    allocated, per resource the quota limits)."""

    project = serializers.CharField(read_only=True)
    clusters = serializers.DictField(
        child=serializers.DictField(child=serializers.DictField(child=serializers.CharField())),
        help_text='{"cls-a": {"hard": {...}, "allocated": {...}, "used": {...}, "left": {...}}}',
    )


class QuotaInputSerializer(serializers.Serializer):
    clusters = ClusterQuotasField()


class MemberSerializer(serializers.Serializer):
    """A member of a project: a user or a group of the tenant, bound in the project's domain
    to project roles (``project-owner``, ``project-member``, ``project-viewer`` or a policy of
    scope project). ``id`` is the username, or ``@<group>`` for a group."""

    id = serializers.CharField(read_only=True)
    kind = serializers.ChoiceField(choices=["user", "group"], default="user")
    name = serializers.CharField(max_length=63)
    display_name = serializers.CharField(read_only=True)
    roles = serializers.ListField(child=serializers.CharField(), allow_empty=False)


class MemberRolesSerializer(serializers.Serializer):
    roles = serializers.ListField(child=serializers.CharField(), allow_empty=False)


class PortalProjectSerializer(serializers.Serializer):
    name = serializers.CharField()
    display_name = serializers.CharField()
    roles = serializers.ListField(child=serializers.CharField())
    parent = serializers.CharField(allow_null=True)
    phase = serializers.CharField()


class PortalSerializer(serializers.Serializer):
    """What the console needs to draw its navigation (TKEStack's ``portal``)."""

    username = serializers.CharField()
    tenant = serializers.CharField(allow_null=True)
    administrator = serializers.BooleanField(
        help_text="A platform-level administrator of the tenant (or the platform operator)."
    )
    projects = PortalProjectSerializer(many=True)
