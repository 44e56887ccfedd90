from rest_framework import serializers

from apps.core.api.fields import TenantSlugRelatedField
from apps.core.api.serializers import TenantSlugField

from ..models import APIKey, Group, IdentityProvider, User


class UserSerializer(serializers.ModelSerializer):
    tenant = TenantSlugField()
    identity_provider = serializers.SlugRelatedField(
        slug_field="name",
        read_only=True,
        allow_null=True,
        help_text="The identity provider that vouches for a directory user (empty: local).",
    )
    is_tenant_admin = serializers.BooleanField(
        required=False, help_text="Holds the administrator policy platform-wide."
    )
    password = serializers.CharField(
        write_only=True,
        required=False,
        style={"input_type": "password"},
        help_text="Initial password (local users). Never returned.",
    )

    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "tenant",
            "display_name",
            "email",
            "phone",
            "source",
            "identity_provider",
            "directory_state",
            "directory_checked_at",
            "is_active",
            "is_tenant_admin",
            "must_change_password",
            "date_joined",
            "last_login",
            "password",
        ]
        read_only_fields = [
            "id",
            "source",
            "identity_provider",
            "directory_state",
            "directory_checked_at",
            "must_change_password",
            "date_joined",
            "last_login",
        ]
        # Per-tenant uniqueness is checked by the service, which names the field.
        extra_kwargs = {"username": {"validators": []}}

    def validate_username(self, value):
        if self.instance is not None and value != self.instance.username:
            raise serializers.ValidationError("A username cannot be changed.")
        return value


class MeSerializer(serializers.ModelSerializer):
    tenant = TenantSlugField()
    is_tenant_admin = serializers.BooleanField(read_only=True)
    is_platform_admin = serializers.BooleanField(source="is_superuser", read_only=True)

    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "tenant",
            "display_name",
            "email",
            "phone",
            "source",
            "is_tenant_admin",
            "is_platform_admin",
        ]
        read_only_fields = fields


class GroupSerializer(serializers.ModelSerializer):
    tenant = TenantSlugField()
    members = TenantSlugRelatedField(
        slug_field="username", queryset=User.objects.all(), many=True, required=False
    )

    class Meta:
        model = Group
        fields = [
            "name",
            "tenant",
            "display_name",
            "description",
            "source",
            "members",
            "created_at",
        ]
        read_only_fields = ["source", "created_at"]
        extra_kwargs = {"name": {"validators": []}}

    def validate_name(self, value):
        if self.instance is not None and value != self.instance.name:
            raise serializers.ValidationError("A group's name cannot be changed.")
        return value


class APIKeySerializer(serializers.ModelSerializer):
    user = serializers.CharField(source="user.username", read_only=True)
    disabled_by = serializers.SlugRelatedField(
        slug_field="username",
        read_only=True,
        allow_null=True,
        help_text="Who disabled the key; a key someone else disabled stays disabled for its owner.",
    )
    cluster = serializers.SlugRelatedField(
        slug_field="name",
        read_only=True,
        allow_null=True,
        help_text="Set for kubeconfig keys: they work only for kubectl on this cluster.",
    )
    expires_in = serializers.CharField(
        write_only=True,
        help_text="Lifetime: 30m, 12h, 7d, 2w … (one minute to one year).",
    )
    key = serializers.SerializerMethodField(
        help_text="The key itself: returned once, in the create response."
    )

    class Meta:
        model = APIKey
        fields = [
            "id",
            "prefix",
            "user",
            "description",
            "expires_in",
            "expires_at",
            "disabled",
            "disabled_by",
            "cluster",
            "created_at",
            "last_used_at",
            "last_used_ip",
            "key",
        ]
        read_only_fields = [
            "id",
            "prefix",
            "user",
            "expires_at",
            "disabled",
            "disabled_by",
            "cluster",
            "created_at",
            "last_used_at",
            "last_used_ip",
        ]

    def get_key(self, obj) -> str | None:
        return getattr(obj, "plaintext", None)

    def validate_expires_in(self, value):
        from ..services import parse_duration

        try:
            return parse_duration(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from exc


class PasswordSerializer(serializers.Serializer):
    password = serializers.CharField(style={"input_type": "password"}, write_only=True)


class PasswordChangeSerializer(serializers.Serializer):
    """Change your own password (``POST /api/v1/me/password/``)."""

    old_password = serializers.CharField(
        style={"input_type": "password"}, write_only=True, trim_whitespace=False
    )
    new_password = serializers.CharField(
        style={"input_type": "password"}, write_only=True, trim_whitespace=False
    )


class UserPermissionsSerializer(serializers.Serializer):
    """A user's effective permissions (``GET /api/v1/users/<name>/permissions/``)."""

    user = serializers.CharField()
    project = serializers.CharField(allow_null=True)
    platform_administrator = serializers.BooleanField()
    statements = serializers.ListField(
        child=serializers.DictField(),
        help_text="Every statement held: actions, resources, effect, policy, domain, via.",
    )


class IdentityProviderSerializer(serializers.ModelSerializer):
    tenant = TenantSlugField()
    config = serializers.JSONField(
        required=False,
        help_text="The type's settings (see the README's identity section); defaults filled in.",
    )
    secret = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        style={"input_type": "password"},
        help_text="LDAP bind password or OIDC client secret. Never returned; omit to keep.",
    )
    has_secret = serializers.SerializerMethodField()
    users = serializers.SerializerMethodField(help_text="How many users it vouches for.")

    class Meta:
        model = IdentityProvider
        fields = [
            "name",
            "tenant",
            "type",
            "display_name",
            "enabled",
            "priority",
            "config",
            "secret",
            "has_secret",
            "users",
            "last_test",
            "last_sync",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["last_test", "last_sync", "created_at", "updated_at"]
        extra_kwargs = {"name": {"validators": []}}

    def get_has_secret(self, obj) -> bool:
        return bool(obj.secret)

    def get_users(self, obj) -> int:
        count = getattr(obj, "user_count", None)
        return obj.users.count() if count is None else count

    def validate_name(self, value):
        if self.instance is not None and value != self.instance.name:
            raise serializers.ValidationError("A provider's name cannot be changed.")
        return value

    def validate_type(self, value):
        if self.instance is not None and value != self.instance.type:
            raise serializers.ValidationError("A provider's type cannot be changed.")
        return value


class ProbeStepSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="dns, tcp, tls, bind, search, discovery, jwks …")
    ok = serializers.BooleanField()
    detail = serializers.CharField()
    ms = serializers.IntegerField()


class ProbeReportSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    failed_step = serializers.CharField(allow_null=True)
    tested_at = serializers.DateTimeField()
    steps = ProbeStepSerializer(many=True)


class SyncQueuedSerializer(serializers.Serializer):
    task_id = serializers.CharField()
