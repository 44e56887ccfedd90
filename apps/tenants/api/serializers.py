from rest_framework import serializers

from ..models import Tenant


class TenantSerializer(serializers.ModelSerializer):
    admin_username = serializers.CharField(
        write_only=True, required=False, help_text="Create the tenant's first administrator."
    )
    admin_password = serializers.CharField(
        write_only=True, required=False, style={"input_type": "password"}
    )

    class Meta:
        model = Tenant
        fields = [
            "slug",
            "display_name",
            "is_active",
            "created_at",
            "updated_at",
            "admin_username",
            "admin_password",
        ]
        read_only_fields = ["created_at", "updated_at"]
        # Uniqueness is checked by the service, which names the field in its error.
        extra_kwargs = {"slug": {"validators": []}}

    def validate_slug(self, value):
        if self.instance is not None and value != self.instance.slug:
            raise serializers.ValidationError("A tenant's slug cannot be changed.")
        return value
