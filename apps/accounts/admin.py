"""Admin for users, groups and API keys. Every write that acts on a user, a membership or
a key goes through the services, so "no one acts above themselves" holds here as in the API
(a refusal is the admin's 403 page naming why)."""

from axes.admin import AccessAttemptAdmin
from axes.models import AccessAttempt
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group as DjangoGroup
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.authz import check
from apps.authz.services import assert_may_act_on
from apps.core.admin import (
    TenantScopedAdmin,
    failed,
    name_operation,
    permitted,
    phase_badge,
    table,
)
from apps.core.admin_links import console_link

from . import services
from .choices import UserSource
from .forms import AdminSignInForm, PortalUserCreationForm
from .identity.forms import IdentityProviderForm
from .models import APIKey, Group, IdentityProvider, User

DIRECTORY_FIELDS = [
    "identity_provider",
    "external_id",
    "directory_state",
    "directory_checked_at",
    "password_changed_at",
]

# Django's global groups have no tenant; the portal's own Group replaces them.
admin.site.unregister(DjangoGroup)
# The admin's sign-in says so when the account or the address is locked.
admin.site.login_form = AdminSignInForm


def revoke(request, keys) -> None:
    """Disable ``keys`` as the API's ``disable`` does: ``disableAPIKey`` on the key's path with
    its owner, then the service (which also refuses acting above oneself)."""
    done = 0
    for key in keys:
        if not permitted(request, "disableAPIKey", key.authz_resource, key.tenant, owner=key.user):
            continue
        try:
            services.set_api_key_disabled(actor=request.user, key=key, disabled=True)
        except PermissionDenied as exc:
            failed(
                request,
                _("Could not disable API key %(key)s… of %(user)s: %(reason)s")
                % {"key": key.prefix, "user": key.user.username, "reason": exc},
            )
            continue
        done += 1
        messages.success(
            request,
            _("Disabled API key %(key)s… of %(user)s")
            % {"key": key.prefix, "user": key.user.username},
        )
    if keys and not done:
        request.audit_outcome = getattr(request, "audit_outcome", None) or "failure"


@admin.register(User)
class UserAdmin(TenantScopedAdmin, DjangoUserAdmin):
    list_display = [
        "username",
        "tenant",
        "display_name",
        "email",
        "source",
        "status",
        "is_staff",
    ]
    list_filter = ["is_active", "is_staff", "source", "directory_state", "tenant"]
    list_select_related = ["tenant"]
    search_fields = ["username", "display_name", "email"]
    ordering = ["tenant__slug", "username"]
    actions = ["disable_users", "enable_users", "revoke_api_keys", "sync_with_directory"]
    readonly_fields = ["console", "status", "api_keys_shown"]
    # Extends guardian's change form (its "Object permissions" button stays).
    change_form_template = "admin/accounts/user/change_form.html"
    fieldsets = (
        (None, {"fields": ("tenant", "username", "password", "console", "status")}),
        ("Profile", {"fields": ("display_name", "email", "phone", "source")}),
        (
            "Access",
            {
                "fields": ("is_active", "is_staff", "is_superuser"),
                "description": "Staff = tenant administrator. Superuser = platform administrator.",
            },
        ),
        (
            "Directory",
            {
                "fields": (
                    "identity_provider",
                    "external_id",
                    "directory_state",
                    "directory_checked_at",
                    "must_change_password",
                    "password_changed_at",
                ),
                "description": "Who vouches for a directory user; set by sign-in and sync.",
            },
        ),
        (gettext_lazy("API keys"), {"fields": ("api_keys_shown",)}),
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

    def save_model(self, request, obj, form, change):
        if change:
            # The stored row: the guard must judge who the user is, not what the form says.
            assert_may_act_on(request.user, User.objects.get(pk=obj.pk), "edit")
        super().save_model(request, obj, form, change)

    def user_change_password(self, request, id, form_url=""):
        user = self.get_object(request, unquote(id))
        if user is not None:
            assert_may_act_on(request.user, user, "reset the password of")
            if user.source != UserSource.LOCAL:
                raise PermissionDenied(
                    f"'{user.username}' signs in through their directory: their password is "
                    "set there, not in the portal."
                )
        response = super().user_change_password(request, id, form_url)
        if request.method == "POST" and response.status_code == 302 and user is not None:
            if user.pk != request.user.pk:
                # Like the API's reset-password: their choice next time, sessions end.
                services.after_administrator_reset(user)
        return response

    def delete_model(self, request, obj):
        services.delete_user(actor=request.user, user=obj)

    def delete_queryset(self, request, queryset):
        # "Delete selected" would otherwise delete rows without the services' guards.
        for user in queryset:
            services.delete_user(actor=request.user, user=user)

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is None:
            return fields
        fields += ["source", "last_login", "date_joined", *DIRECTORY_FIELDS]
        if not request.user.is_superuser:
            fields.append("is_superuser")
        return fields

    # -- display ---------------------------------------------------------------------------------
    @admin.display(description=gettext_lazy("Status"), ordering="is_active")
    def status(self, obj):
        if obj.is_active:
            return phase_badge("Running", _("active"))
        return phase_badge("Failed", _("disabled"))

    @admin.display(description=gettext_lazy("Console"))
    def console(self, obj):
        return console_link("console:user", pk=obj.pk) or "—"

    @admin.display(description=gettext_lazy("API keys"))
    def api_keys_shown(self, obj):
        keys = list(obj.api_keys.select_related("cluster").order_by("-created_at"))
        if not keys:
            return _("none")
        rows = (
            (
                key.prefix,
                key.description or "—",
                phase_badge("Failed", _("disabled"))
                if key.disabled
                else phase_badge("Running", _("active")),
                key.expires_at.strftime("%Y-%m-%d %H:%M UTC") if key.expires_at else _("never"),
                key.last_used_at.strftime("%Y-%m-%d %H:%M UTC") if key.last_used_at else _("never"),
                key.cluster.name if key.cluster_id else "—",
            )
            for key in keys
        )
        headers = [_("Key"), _("Description"), _("Status"), _("Expires"), _("Last used")]
        return table(
            [*headers, _("Cluster")],
            format_html_join(
                "",
                '<tr><th scope="row"><code>{}…</code></th><td>{}</td><td>{}</td><td>{}</td>'
                "<td>{}</td><td>{}</td></tr>",
                rows,
            ),
        )

    # -- operations, as the API's disable / enable and API key disable ----------------------------
    # The same operations as buttons on a user's change page (object tools): each posts to one
    # of these views, which run the action on that one user.
    _USER_OPERATIONS = {
        "disable": "disable_users",
        "enable": "enable_users",
        "revoke-api-keys": "revoke_api_keys",
    }

    def get_urls(self):
        return [
            path(
                "<path:object_id>/operations/<str:operation>/",
                self.admin_site.admin_view(self.user_operation_view),
                name="accounts_user_operation",
            ),
            *super().get_urls(),
        ]

    def user_operation_view(self, request, object_id, operation):
        user = self.get_object(request, unquote(object_id))
        if (
            user is None
            or operation not in self._USER_OPERATIONS
            or not self.has_view_or_change_permission(request, user)
        ):
            raise Http404("No such user operation.")
        change = HttpResponseRedirect(reverse("admin:accounts_user_change", args=[user.pk]))
        if request.method == "POST":
            action = getattr(self, self._USER_OPERATIONS[operation])
            action(request, self.get_queryset(request).filter(pk=user.pk))
        return change

    def get_object(self, request, object_id, from_field=None):
        user = super().get_object(request, object_id, from_field)
        if user is not None:
            # The change page's buttons: only those the viewer may use.
            user.may = {
                "disable": user.is_active
                and bool(
                    check(request.user, "disableUser", user.authz_resource, user.tenant, owner=user)
                ),
                "enable": not user.is_active
                and bool(
                    check(request.user, "enableUser", user.authz_resource, user.tenant, owner=user)
                ),
                "revoke": bool(
                    check(
                        request.user,
                        "disableAPIKey",
                        f"{user.authz_resource}/apikey:*",
                        user.tenant,
                        owner=user,
                    )
                ),
            }
        return user

    def _set_active(self, request, queryset, active: bool):
        action = "enableUser" if active else "disableUser"
        users = list(queryset.select_related("tenant"))
        name_operation(request, action, [u.authz_resource for u in users])
        for user in users:
            if not permitted(request, action, user.authz_resource, user.tenant, owner=user):
                continue
            try:
                services.update_user(actor=request.user, user=user, is_active=active)
            except (ValidationError, PermissionDenied) as exc:
                text = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
                template = (
                    _("Could not enable %(user)s: %(reason)s")
                    if active
                    else _("Could not disable %(user)s: %(reason)s")
                )
                failed(request, template % {"user": user.username, "reason": text})
                continue
            done = _("Enabled %(user)s") if active else _("Disabled %(user)s")
            self.message_user(request, done % {"user": user.username}, messages.SUCCESS)

    @admin.action(description=gettext_lazy("Disable the selected users (sign-in and API keys)"))
    def disable_users(self, request, queryset):
        self._set_active(request, queryset, False)

    @admin.action(description=gettext_lazy("Enable the selected users"))
    def enable_users(self, request, queryset):
        self._set_active(request, queryset, True)

    @admin.action(description=gettext_lazy("Revoke (disable) every API key of the selected users"))
    def revoke_api_keys(self, request, queryset):
        users = list(queryset)
        keys = list(
            APIKey.objects.filter(user__in=users, disabled=False)
            .select_related("user", "tenant")
            .order_by("user__username", "prefix")
        )
        name_operation(
            request,
            "disableAPIKey",
            [k.authz_resource for k in keys] or [f"{u.authz_resource}/apikey:*" for u in users],
        )
        revoke(request, keys)
        for user in users:
            if not any(k.user_id == user.pk for k in keys):
                self.message_user(
                    request, _("%(user)s has no active API keys") % {"user": user.username}
                )

    @admin.action(description="Sync the selected users with their directory")
    def sync_with_directory(self, request, queryset):
        for user in queryset.select_related("identity_provider"):
            try:
                synced = services.sync_user(actor=request.user, user=user)
            except (ValidationError, PermissionDenied) as exc:
                text = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
                self.message_user(request, f"{user.username}: {text}", messages.ERROR)
                continue
            state = synced.get_directory_state_display()
            self.message_user(request, f"{synced.username}: {state}", messages.SUCCESS)


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

    def delete_queryset(self, request, queryset):
        for group in queryset:
            services.delete_group(actor=request.user, group=group)


@admin.register(APIKey)
class APIKeyAdmin(TenantScopedAdmin):
    list_display = [
        "prefix",
        "user",
        "tenant",
        "description",
        "expires_at",
        "disabled",
        "cluster",
        "last_used_at",
    ]
    list_filter = ["disabled", "tenant"]
    search_fields = ["prefix", "user__username", "description"]
    readonly_fields = [
        "prefix",
        "user",
        "expires_at",
        "disabled_by",
        "cluster",
        "created_at",
        "last_used_at",
        "last_used_ip",
    ]
    fields = [
        "prefix",
        "user",
        "description",
        "expires_at",
        "disabled",
        "disabled_by",
        "cluster",
        "created_at",
        "last_used_at",
        "last_used_ip",
    ]
    actions = ["revoke_keys"]

    def has_add_permission(self, request) -> bool:
        # Keys are minted by the API or `manage.py createapikey`, which show the secret once.
        return False

    def save_model(self, request, obj, form, change):
        if change and obj.user_id != request.user.pk:
            assert_may_act_on(request.user, obj.user, "edit API keys of")
        if change and "disabled" in form.changed_data:
            # Through the service: who disabled it is kept, and an enable is judged.
            stored = APIKey.objects.get(pk=obj.pk)
            services.set_api_key_disabled(actor=request.user, key=stored, disabled=obj.disabled)
            obj.disabled_by_id = stored.disabled_by_id
        super().save_model(request, obj, form, change)

    def delete_model(self, request, obj):
        services.delete_api_key(actor=request.user, key=obj)

    def delete_queryset(self, request, queryset):
        for key in queryset:
            services.delete_api_key(actor=request.user, key=key)

    @admin.action(description="Disable the selected keys")
    def revoke_keys(self, request, queryset):
        keys = list(queryset.select_related("user", "tenant"))
        name_operation(request, "disableAPIKey", [k.authz_resource for k in keys])
        revoke(request, keys)


@admin.register(IdentityProvider)
class IdentityProviderAdmin(TenantScopedAdmin):
    """Identity providers: every write goes through the services (only tenant administrators
    configure them; the secret is encrypted and never shown)."""

    form = IdentityProviderForm
    list_display = [
        "name",
        "tenant",
        "type",
        "display_name",
        "enabled",
        "priority",
        "tested",
        "synced",
    ]
    list_filter = ["type", "enabled", "tenant"]
    search_fields = ["name", "display_name"]
    actions = ["test_connection", "sync_directory"]

    def get_fieldsets(self, request, obj=None):
        return IdentityProviderForm.fieldsets(
            ["tenant", "name", "type", "display_name", "enabled", "priority"]
        )

    def get_form(self, request, obj=None, **kwargs):
        # The per-type settings fields are added by the form itself: the model form is made
        # from the model's fields only (the fieldsets name fields it does not declare).
        kwargs["fields"] = IdentityProviderForm.Meta.fields
        return super().get_form(request, obj, **kwargs)

    @admin.display(description="Last test")
    def tested(self, obj) -> str:
        report = obj.last_test or {}
        if not report:
            return "never"
        return "ok" if report.get("ok") else f"failed at {report.get('failed_step')}"

    @admin.display(description="Last sync")
    def synced(self, obj) -> str:
        report = obj.last_sync or {}
        if not report:
            return "never" if obj.type == "ldap" else "—"
        return ", ".join(
            f"{report.get(key, 0)} {key}"
            for key in ("checked", "missing", "disabled", "unreachable", "errors")
        )

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        fields = {
            "display_name": data.get("display_name", ""),
            "enabled": data.get("enabled", False),
            "priority": data.get("priority", 100),
            "config": data.get("config", {}),
        }
        secret = data.get("secret_value") or None
        if change:
            stored = IdentityProvider.objects.get(pk=obj.pk)
            saved = services.update_identity_provider(
                actor=request.user, provider=stored, secret=secret, **fields
            )
        else:
            tenant = data.get("tenant") if request.user.is_superuser else request.user.tenant
            saved = services.create_identity_provider(
                actor=request.user,
                tenant=tenant,
                name=data["name"],
                type=data["type"],
                secret=secret or "",
                **fields,
            )
        obj.pk = saved.pk
        obj.__dict__.update({k: v for k, v in saved.__dict__.items() if not k.startswith("_")})

    def delete_model(self, request, obj):
        services.delete_identity_provider(actor=request.user, provider=obj)

    def delete_queryset(self, request, queryset):
        for provider in queryset:
            services.delete_identity_provider(actor=request.user, provider=provider)

    @admin.action(description="Test the connection of the selected providers")
    def test_connection(self, request, queryset):
        for provider in queryset:
            report = services.test_identity_provider(actor=request.user, provider=provider)
            if report["ok"]:
                self.message_user(request, f"{provider.name}: ok", messages.SUCCESS)
            else:
                failed = next(s for s in report["steps"] if not s["ok"])
                self.message_user(
                    request,
                    f"{provider.name}: {failed['name']} failed — {failed['detail']}",
                    messages.ERROR,
                )

    @admin.action(description="Sync every user of the selected LDAP directories now")
    def sync_directory(self, request, queryset):
        for provider in queryset:
            try:
                services.sync_identity_provider(actor=request.user, provider=provider)
            except (ValidationError, PermissionDenied) as exc:
                text = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
                self.message_user(request, f"{provider.name}: {text}", messages.ERROR)
                continue
            self.message_user(
                request,
                f"{provider.name}: sync queued (its report is the provider's last sync)",
                messages.SUCCESS,
            )


@admin.register(AccessAttempt)
class SignInLockoutAdmin(AccessAttemptAdmin):
    """Failed sign-ins counted by the lockout (``apps.accounts.lockout``): one row per account
    (``tenant/username``, or the name as typed when it names no one), client address and
    browser. Deleting a row forgets its failures, which lifts the lock.

    Platform administrators only: the rows name accounts of every tenant and names typed at
    the sign-in page, which are not a tenant administrator's to see. A tenant administrator
    unlocks one of their users by resetting the user's password."""

    list_display = [
        "attempt_time",
        "username",
        "ip_address",
        "user_agent",
        "path_info",
        "failures_since_start",
    ]
    list_filter = ["attempt_time", "path_info"]
    actions = ["delete_selected"]

    def _platform(self, request) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_module_permission(self, request) -> bool:
        return self._platform(request)

    def has_view_permission(self, request, obj=None) -> bool:
        return self._platform(request)

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return self._platform(request)
