from rest_framework import serializers

from apps.accounts.models import Group, User
from apps.core.api.fields import TenantSlugRelatedField
from apps.core.api.serializers import TenantSlugField

from ..models import Binding, Policy, Role


class StatementSerializer(serializers.Serializer):
    actions = serializers.ListField(child=serializers.CharField(), allow_empty=False)
    resources = serializers.ListField(child=serializers.CharField(), allow_empty=False)
    effect = serializers.ChoiceField(choices=["allow", "deny"], default="allow")


class PolicySerializer(serializers.ModelSerializer):
    tenant = TenantSlugField()
    # Validated in depth (known actions, resource grammar) by the service.
    statements = serializers.JSONField(
        help_text='[{"actions": ["get*"], "resources": ["cluster:*"], "effect": "allow"}]'
    )

    class Meta:
        model = Policy
        fields = [
            "name",
            "tenant",
            "display_name",
            "description",
            "category",
            "scope",
            "statements",
            "predefined",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["predefined", "created_at", "updated_at"]
        extra_kwargs = {"name": {"validators": []}}

    def validate_name(self, value):
        if self.instance is not None and value != self.instance.name:
            raise serializers.ValidationError("A policy's name cannot be changed.")
        return value


class RoleSerializer(serializers.ModelSerializer):
    tenant = TenantSlugField()
    policies = TenantSlugRelatedField(
        slug_field="name", queryset=Policy.objects.all(), many=True, required=False
    )

    class Meta:
        model = Role
        fields = [
            "name",
            "tenant",
            "display_name",
            "description",
            "policies",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]
        extra_kwargs = {"name": {"validators": []}}

    def validate_name(self, value):
        if self.instance is not None and value != self.instance.name:
            raise serializers.ValidationError("A role's name cannot be changed.")
        return value


class BindingSerializer(serializers.ModelSerializer):
    tenant = TenantSlugField()
    user = TenantSlugRelatedField(
        slug_field="username", queryset=User.objects.all(), required=False, allow_null=True
    )
    group = TenantSlugRelatedField(
        slug_field="name", queryset=Group.objects.all(), required=False, allow_null=True
    )
    policy = TenantSlugRelatedField(
        slug_field="name", queryset=Policy.objects.all(), required=False, allow_null=True
    )
    role = TenantSlugRelatedField(
        slug_field="name", queryset=Role.objects.all(), required=False, allow_null=True
    )

    class Meta:
        model = Binding
        fields = ["id", "tenant", "user", "group", "policy", "role", "domain", "created_at"]
        read_only_fields = ["id", "created_at"]
        validators = []


class CheckRequestSerializer(serializers.Serializer):
    action = serializers.CharField(help_text="e.g. createDeployment")
    resource = serializers.CharField(help_text="e.g. cluster:cls-a1/namespace:web/deployment:*")
    project = serializers.RegexField(r"^prj-[a-z0-9-]+$", required=False, allow_blank=True)
    user = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="Username in your tenant; empty for yourself.",
    )


class DecisionSerializer(serializers.Serializer):
    allowed = serializers.BooleanField()
    reason = serializers.CharField()
    user = serializers.CharField()
    action = serializers.CharField()
    resource = serializers.CharField()
    project = serializers.CharField(allow_null=True)
    matched = serializers.ListField(child=serializers.DictField(), required=False)
