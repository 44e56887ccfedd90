from rest_framework import serializers

from apps.accounts.models import User
from apps.core.api.fields import TenantSlugRelatedField
from apps.core.api.serializers import TenantSlugField
from apps.projects.models import Project

from ..models import Chart, ChartGroup, ChartVersion, group_name_validator


class ChartGroupSerializer(serializers.ModelSerializer):
    """A chart repository of the tenant: Helm reads it at ``/chart/<tenant>/<name>``
    (``helm repo add``), uploads go to ``/chart/api/<tenant>/<name>/charts``. With an
    ``import_url`` it mirrors a third-party repository (resynced hourly; ``…/sync/`` now)."""

    tenant = TenantSlugField()
    name = serializers.CharField(
        max_length=63,
        validators=[group_name_validator],
        help_text="Lowercase letters and digits joined by . _ -; cannot be changed.",
    )
    owner = TenantSlugRelatedField(
        slug_field="username",
        queryset=User.objects.all(),
        required=False,
        allow_null=True,
        help_text="For visibility user: who reads it without a policy (default: its creator).",
    )
    project = TenantSlugRelatedField(
        slug_field="name",
        queryset=Project.objects.all(),
        required=False,
        allow_null=True,
        help_text="For visibility project: whose members read it.",
    )
    import_password = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        style={"input_type": "password"},
        help_text="Password of import_username at the imported repository; write-only "
        "(never returned), encrypted at rest. Omit it to keep the stored one.",
    )
    has_import_password = serializers.SerializerMethodField()
    repository_url = serializers.SerializerMethodField(help_text="What to give `helm repo add`.")
    chart_count = serializers.SerializerMethodField()

    class Meta:
        model = ChartGroup
        fields = [
            "id",
            "name",
            "tenant",
            "display_name",
            "description",
            "visibility",
            "owner",
            "project",
            "import_url",
            "import_username",
            "import_password",
            "has_import_password",
            "last_synced_at",
            "sync_message",
            "repository_url",
            "chart_count",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "last_synced_at", "sync_message", "created_at", "updated_at"]

    def get_has_import_password(self, obj) -> bool:
        return bool(obj.import_password)

    def get_repository_url(self, obj) -> str:
        path = f"/chart/{obj.tenant.slug}/{obj.name}"
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path

    def get_chart_count(self, obj) -> int:
        count = getattr(obj, "chart_total", None)
        return count if count is not None else obj.charts.count()

    def validate_name(self, value):
        if self.instance is not None and value != self.instance.name:
            raise serializers.ValidationError("A chart group cannot be renamed.")
        return value


class ChartSerializer(serializers.ModelSerializer):
    """A chart of a group, with what its latest version says of it."""

    group = serializers.CharField(source="group.name", read_only=True)
    version_count = serializers.SerializerMethodField()

    class Meta:
        model = Chart
        fields = [
            "id",
            "name",
            "group",
            "description",
            "icon",
            "latest_version",
            "pull_count",
            "version_count",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_version_count(self, obj) -> int:
        count = getattr(obj, "version_total", None)
        return count if count is not None else obj.versions.count()


class ChartVersionSerializer(serializers.ModelSerializer):
    """One version: its Chart.yaml (``metadata``), values.yaml as text, the archive's digest
    and where Helm downloads it."""

    chart = serializers.CharField(source="chart.name", read_only=True)
    pushed_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = ChartVersion
        fields = [
            "id",
            "chart",
            "version",
            "app_version",
            "description",
            "api_version",
            "metadata",
            "values",
            "digest",
            "size",
            "has_provenance",
            "source_url",
            "pushed_by",
            "download_url",
            "created_at",
        ]
        read_only_fields = fields

    def get_download_url(self, obj) -> str:
        group = obj.chart.group
        path = f"/chart/{group.tenant.slug}/{group.name}/charts/{obj.filename}"
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


class ChartVersionListSerializer(ChartVersionSerializer):
    """Versions in a list: without values.yaml (a detail carries it)."""

    class Meta(ChartVersionSerializer.Meta):
        fields = [f for f in ChartVersionSerializer.Meta.fields if f != "values"]
        read_only_fields = fields


class SyncReportSerializer(serializers.Serializer):
    task_id = serializers.CharField()
    report = serializers.DictField(required=False, help_text="When the sync has finished.")
