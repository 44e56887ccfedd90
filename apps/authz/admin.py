"""Admin for policies, roles and bindings. Writes go through the services (bulk deletes
too), so the escalation, deny-lifting and last-administrator guards hold in the admin too."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from apps.core.admin import TenantScopedAdmin

from . import services
from .models import Binding, Policy, Role


class PolicyForm(forms.ModelForm):
    class Meta:
        model = Policy
        fields = [
            "tenant",
            "name",
            "display_name",
            "description",
            "category",
            "scope",
            "statements",
        ]

    def clean_statements(self):
        return services.validate_statements(self.cleaned_data["statements"])


@admin.register(Policy)
class PolicyAdmin(TenantScopedAdmin):
    form = PolicyForm
    list_display = ["name", "display_name", "tenant", "scope", "category", "predefined"]
    list_filter = ["scope", "predefined", "category", "tenant"]
    search_fields = ["name", "display_name", "description"]

    def has_change_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.predefined:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.predefined:
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        if change:
            services.update_policy(
                actor=request.user,
                policy=obj,
                **{
                    f: form.cleaned_data[f]
                    for f in ("display_name", "description", "category", "scope", "statements")
                },
            )
        else:
            tenant = obj.tenant if request.user.is_superuser else request.user.tenant
            created = services.create_policy(
                actor=request.user,
                tenant=tenant,
                name=obj.name,
                statements=form.cleaned_data["statements"],
                display_name=obj.display_name,
                description=obj.description,
                scope=obj.scope,
                category=obj.category,
            )
            obj.pk = created.pk

    def delete_model(self, request, obj):
        services.delete_policy(actor=request.user, policy=obj)

    def delete_queryset(self, request, queryset):
        # "Delete selected" would otherwise bypass the services' guards.
        for obj in queryset:
            services.delete_policy(actor=request.user, policy=obj)


@admin.register(Role)
class RoleAdmin(TenantScopedAdmin):
    list_display = ["name", "display_name", "tenant", "created_at"]
    list_filter = ["tenant"]
    search_fields = ["name", "display_name"]
    filter_horizontal = ["policies"]

    def save_related(self, request, form, formsets, change):
        # Policies go through the service so adding one to a bound role is escalation-checked.
        policies = list(form.cleaned_data.get("policies", ()))
        services.update_role(actor=request.user, role=form.instance, policies=policies)

    def delete_model(self, request, obj):
        services.delete_role(actor=request.user, role=obj)

    def delete_queryset(self, request, queryset):
        # "Delete selected" would otherwise bypass the services' guards.
        for obj in queryset:
            services.delete_role(actor=request.user, role=obj)


class BindingForm(forms.ModelForm):
    class Meta:
        model = Binding
        fields = ["tenant", "user", "group", "policy", "role", "domain"]

    def clean(self):
        cleaned = super().clean()
        if bool(cleaned.get("user")) == bool(cleaned.get("group")):
            raise ValidationError("Choose exactly one of user or group.")
        if bool(cleaned.get("policy")) == bool(cleaned.get("role")):
            raise ValidationError("Choose exactly one of policy or role.")
        return cleaned


@admin.register(Binding)
class BindingAdmin(TenantScopedAdmin):
    form = BindingForm
    list_display = ["id", "tenant", "user", "group", "policy", "role", "domain", "created_at"]
    list_filter = ["domain", "tenant"]
    search_fields = ["user__username", "group__name", "policy__name", "role__name"]

    def has_change_permission(self, request, obj=None) -> bool:
        # Bindings are created and deleted, never edited in place.
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        tenant = obj.tenant if request.user.is_superuser else request.user.tenant
        created = services.create_binding(
            actor=request.user,
            tenant=tenant,
            user=obj.user,
            group=obj.group,
            policy=obj.policy,
            role=obj.role,
            domain=obj.domain,
        )
        obj.pk = created.pk

    def delete_model(self, request, obj):
        services.delete_binding(actor=request.user, binding=obj)

    def delete_queryset(self, request, queryset):
        # "Delete selected" would otherwise bypass the services' guards.
        for obj in queryset:
            services.delete_binding(actor=request.user, binding=obj)
