from rest_framework import serializers

from apps.core.api.serializers import TenantSlugField

from ..models import User


class UserSerializer(serializers.ModelSerializer):
    tenant = TenantSlugField()
    is_tenant_admin = serializers.BooleanField(source="is_staff", required=False)
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
            "is_active",
            "is_tenant_admin",
            "date_joined",
            "last_login",
            "password",
        ]
        read_only_fields = ["id", "source", "date_joined", "last_login"]
        # Per-tenant uniqueness is checked by the service, which names the field.
        extra_kwargs = {"username": {"validators": []}}

    def validate_username(self, value):
        if self.instance is not None and value != self.instance.username:
            raise serializers.ValidationError("A username cannot be changed.")
        return value


class MeSerializer(serializers.ModelSerializer):
    tenant = TenantSlugField()
    is_tenant_admin = serializers.BooleanField(source="is_staff", read_only=True)
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
