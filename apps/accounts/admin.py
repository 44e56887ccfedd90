from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group as DjangoGroup

from apps.core.admin import TenantScopedAdmin

from . import services
from .forms import PortalUserCreationForm
from .models import APIKey, Group, User

# Django's global groups have no tenant; the portal's own Group replaces them.
admin.site.unregister(DjangoGroup)


@admin.register(User)
class UserAdmin(TenantScopedAdmin, DjangoUserAdmin):
    list_display = [
        "username",
        "tenant",
        "display_name",
        "email",
        "source",
        "is_active",
        "is_staff",
    ]
    list_filter = ["is_active", "is_staff", "source", "tenant"]
    search_fields = ["username", "display_name", "email"]
    ordering = ["tenant__slug", "username"]
    fieldsets = (
        (None, {"fields": ("tenant", "username", "password")}),
        ("Profile", {"fields": ("display_name", "email", "phone", "source")}),
        (
            "Access",
            {
                "fields": ("is_active", "is_staff", "is_superuser"),
                "description": "Staff = tenant administrator. Superuser = platform administrator.",
            },
        ),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"fields": ("tenant", "username", "password1", "password2", "is_staff")}),
    )

    add_form = PortalUserCreationForm

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if obj is None and not request.user.is_superuser:
            form = type(form.__name__, (form,), {"fixed_tenant": request.user.tenant})
        return form

    def delete_model(self, request, obj):
        services.delete_user(actor=request.user, user=obj)

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is None:
            return fields
        fields += ["source", "last_login", "date_joined"]
        if not request.user.is_superuser:
            fields.append("is_superuser")
        return fields


@admin.register(Group)
class GroupAdmin(TenantScopedAdmin):
    list_display = ["name", "tenant", "display_name", "source", "created_at"]
    list_filter = ["source", "tenant"]
    search_fields = ["name", "display_name"]
    filter_horizontal = ["members"]

    def save_related(self, request, form, formsets, change):
        # Membership goes through the service: adding someone to a group that is bound to
        # a policy grants it, so the escalation guard applies.
        services.update_group(
            actor=request.user, group=form.instance, members=form.cleaned_data["members"]
        )

    def delete_model(self, request, obj):
        services.delete_group(actor=request.user, group=obj)


@admin.register(APIKey)
class APIKeyAdmin(TenantScopedAdmin):
    list_display = [
        "prefix",
        "user",
        "tenant",
        "description",
        "expires_at",
        "disabled",
        "last_used_at",
    ]
    list_filter = ["disabled", "tenant"]
    search_fields = ["prefix", "user__username", "description"]
    readonly_fields = ["prefix", "user", "expires_at", "created_at", "last_used_at", "last_used_ip"]
    fields = [
        "prefix",
        "user",
        "description",
        "expires_at",
        "disabled",
        "created_at",
        "last_used_at",
        "last_used_ip",
    ]
    actions = ["revoke_keys"]

    def has_add_permission(self, request) -> bool:
        # Keys are minted by the API or `manage.py createapikey`, which show the secret once.
        return False

    @admin.action(description="Disable the selected keys")
    def revoke_keys(self, request, queryset):
        for key in queryset:
            services.set_api_key_disabled(actor=request.user, key=key, disabled=True)
        self.message_user(request, f"Disabled {queryset.count()} key(s).", messages.SUCCESS)
