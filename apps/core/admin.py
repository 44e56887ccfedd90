"""The admin base: tenant scoping and the permission layer for every model admin.

Operators (platform administrators) see every tenant; a tenant administrator signing in to
the admin sees only their own tenant's rows, may only pick related objects of their tenant,
and every permission question goes to ``apps.authz.check`` — never to Django model perms.
"""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from guardian.admin import GuardedModelAdminMixin, UserManage
from guardian.shortcuts import get_user_perms

from apps.authz import can_any, check, restrict
from apps.core.api.viewsets import plural

_ADMIN_VERBS = {"view": "get", "add": "create", "change": "update", "delete": "delete"}

# The operators' side of the portal says whose it is (the console is one click away).
admin.site.site_header = gettext_lazy("TKE Portal administration")
admin.site.site_title = gettext_lazy("TKE Portal admin")
admin.site.index_title = gettext_lazy("Platform operations")
admin.site.site_url = "/"


class TenantUserManage(UserManage):
    """Guardian's "grant object permissions to a user" form, resolving ``tenant/username``
    and never finding users of another tenant."""

    tenant_id = None  # set per request by TenantScopedAdmin

    def clean_user(self):
        from apps.accounts.models import User

        name = self.cleaned_data["user"].strip()
        users = User.objects.all()
        if self.tenant_id is not None:
            users = users.filter(tenant_id=self.tenant_id)
            name = name.rsplit("/", 1)[-1]
            found = users.filter(username=name).first()
        else:
            try:
                found = User.objects.get_by_natural_key(name)
            except (User.DoesNotExist, User.MultipleObjectsReturned):
                found = None
        if found is None:
            raise forms.ValidationError(self.fields["user"].error_messages["does_not_exist"])
        return found


class TenantScopedAdmin(GuardedModelAdminMixin, admin.ModelAdmin):
    """Base ModelAdmin. ``tenant_field`` names the path to the owning tenant ("tenant",
    or "" for the Tenant model itself)."""

    tenant_field = "tenant"
    # Verbs checked at platform level (no tenant), e.g. adding or deleting a tenant.
    platform_verbs: frozenset[str] = frozenset()
    list_per_page = 50

    # -- names -----------------------------------------------------------------------
    @property
    def kind(self) -> str:
        return self.model._meta.object_name

    def action_name(self, verb: str) -> str:
        return f"{_ADMIN_VERBS[verb]}{self.kind}"

    def resource_of(self, obj=None) -> str:
        if obj is None:
            return f"{self.kind.lower()}:*"
        return getattr(obj, "authz_resource", f"{self.kind.lower()}:{obj.pk}")

    def tenant_of(self, request, obj=None):
        if obj is None:
            return request.user.tenant
        if not self.tenant_field:
            return obj
        return getattr(obj, self.tenant_field, None)

    # -- permissions -----------------------------------------------------------------
    owner_field = ""

    def _allowed(self, request, verb: str, obj=None) -> bool:
        tenant = None if verb in self.platform_verbs else self.tenant_of(request, obj)
        owner = None
        if obj is not None and self.owner_field:
            owner = obj if self.owner_field == "self" else getattr(obj, self.owner_field, None)
        return check(
            request.user,
            self.action_name(verb),
            self.resource_of(obj),
            tenant,
            owner=owner,
            obj=obj,
        ).allowed

    def has_module_permission(self, request) -> bool:
        return (
            request.user.is_active
            and request.user.is_staff
            and can_any(request.user, f"list{plural(self.kind)}")
        )

    def has_view_permission(self, request, obj=None) -> bool:
        if obj is None:
            return can_any(request.user, f"list{plural(self.kind)}")
        return self._allowed(request, "view", obj)

    def has_add_permission(self, request) -> bool:
        return self._allowed(request, "add")

    def has_change_permission(self, request, obj=None) -> bool:
        return self._allowed(request, "change", obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self._allowed(request, "delete", obj)

    # -- object permissions (django-guardian pages) -------------------------------------------
    def obj_perms_manage_user_view(self, request, object_pk, user_id):
        """Guardian's page, kept to the rule every door keeps: the user whose grants change is
        of the actor's tenant (404 otherwise), never the actor, and every permission added or
        removed is one the actor holds on the object (403 otherwise)."""
        from apps.accounts.models import User

        users = User.objects.all()
        if not request.user.is_superuser:
            users = users.filter(tenant_id=request.user.tenant_id)
        if not str(user_id).isdigit():
            raise Http404("No such user.")
        target = get_object_or_404(users, pk=user_id)
        if request.method == "POST" and not request.user.is_superuser:
            obj = get_object_or_404(self.get_queryset(request), pk=unquote(object_pk))
            self._guard_object_grants(request, obj, target)
        return super().obj_perms_manage_user_view(request, object_pk, user_id)

    def obj_perms_manage_group_view(self, request, object_pk, group_id):
        """Guardian's groups are Django's auth groups, which the portal does not use (its groups
        are ``accounts.Group``, bound to policies): only the platform administrator sees them."""
        if not request.user.is_superuser:
            raise Http404("Object permissions are granted to users here.")
        return super().obj_perms_manage_group_view(request, object_pk, group_id)

    def _guard_object_grants(self, request, obj, target) -> None:
        if target.pk == request.user.pk:
            raise PermissionDenied("You cannot change your own object permissions.")
        requested = set(request.POST.getlist("permissions"))
        current = set(get_user_perms(target, obj).values_list("codename", flat=True))
        for codename in sorted(requested ^ current):
            verb = codename.split("_", 1)[0]
            if verb not in ("view", "change", "delete") or not self._allowed(request, verb, obj):
                raise PermissionDenied(
                    f"You may not grant or revoke {codename}: you do not hold "
                    f"{self.action_name(verb) if verb in _ADMIN_VERBS else codename} on "
                    f"{self.resource_of(obj)}."
                )

    def get_obj_perms_user_select_form(self, request):
        tenant_id = None if request.user.is_superuser else request.user.tenant_id
        return type("UserManageForTenant", (TenantUserManage,), {"tenant_id": tenant_id})

    # -- scoping ---------------------------------------------------------------------
    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if not request.user.is_superuser:
            if self.tenant_field:
                queryset = queryset.filter(**{self.tenant_field: request.user.tenant_id})
            else:
                queryset = queryset.filter(pk=request.user.tenant_id)
        return restrict(queryset, request.user, f"list{plural(self.kind)}")

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if self.tenant_field == "tenant" and (obj is not None or not request.user.is_superuser):
            fields.append("tenant")
        return fields

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        formfield = super().formfield_for_foreignkey(db_field, request, **kwargs)
        return self._limit_to_tenant(formfield, request)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        formfield = super().formfield_for_manytomany(db_field, request, **kwargs)
        return self._limit_to_tenant(formfield, request)

    def _limit_to_tenant(self, formfield, request):
        if formfield is None or request.user.is_superuser:
            return formfield
        related = formfield.queryset.model
        if any(f.name == "tenant" for f in related._meta.get_fields()):
            formfield.queryset = formfield.queryset.filter(tenant_id=request.user.tenant_id)
        elif related._meta.label_lower == "tenants.tenant":
            formfield.queryset = formfield.queryset.filter(pk=request.user.tenant_id)
        return formfield

    def save_model(self, request, obj, form, change):
        if not change and self.tenant_field == "tenant" and not request.user.is_superuser:
            obj.tenant = request.user.tenant
        super().save_model(request, obj, form, change)

    # -- audit names -----------------------------------------------------------------
    def _name_for_audit(self, request, verb: str, object_id=None):
        request.audit_action = self.action_name(verb)
        request.audit_resource = (
            f"{self.kind.lower()}:{object_id}" if object_id else f"{self.kind.lower()}:*"
        )

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        self._name_for_audit(request, "change" if object_id else "add", object_id)
        response = super().changeform_view(request, object_id, form_url, extra_context)
        context = getattr(response, "context_data", None) or {}
        if request.method == "POST" and context.get("errors"):
            # The form came back with errors: nothing was saved (the API's 400).
            request.audit_outcome = "failure"
        return response

    def delete_view(self, request, object_id, extra_context=None):
        self._name_for_audit(request, "delete", object_id)
        return super().delete_view(request, object_id, extra_context)

    def changelist_view(self, request, extra_context=None):
        if request.method == "POST":
            name = request.POST.get("action", "edit")
            request.audit_action = f"admin:{name}:{self.kind}"
            request.audit_resource = f"{self.kind.lower()}:*"
        return super().changelist_view(request, extra_context)


# -- human-readable display (readonly fields of the change pages) -------------------------------
# Operators read capacity, conditions and labels here: values with their units, small tables and
# chips, never the raw JSON the API returns.

_BINARY_UNITS = (("PiB", 2**50), ("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10))
_BYTES = ("memory", "ephemeral-storage", "storage")
_GPU_RESOURCES = ("nvidia.com/gpu", "tencent.com/vcuda-core")
_PHASE_CLASSES = {
    "Running": "ok",
    "Active": "ok",
    "Succeeded": "ok",
    "Failed": "bad",
    "Initializing": "warn",
    "Pending": "warn",
    "Terminating": "muted",
}


def _number(value: Decimal, digits: int = 1) -> str:
    if value == value.to_integral_value():
        return str(int(value))
    text = f"{value:.{digits}f}".rstrip("0").rstrip(".")
    return text or "0"


def human_bytes(amount: Decimal) -> str:
    """``16Gi`` → ``16 GiB``; ``15.6 GiB`` for the odd byte counts the cluster sums."""
    for unit, size in _BINARY_UNITS:
        if amount >= size:
            return f"{_number(amount / size)} {unit}"
    return f"{_number(amount)} B"


def human_quantity(resource: str, value) -> str:
    """One Kubernetes quantity as an operator reads it: ``4 cores``, ``7.9 cores``,
    ``15.6 GiB``, ``110 pods``, ``2 GPUs``; the value as given when it is not a quantity."""
    from apps.core import quantity

    try:
        amount = quantity.parse(str(value).strip())
    except quantity.QuantityError:
        return str(value)
    # Quota names: requests.cpu, limits.memory, requests.nvidia.com/gpu …
    for prefix in ("requests.", "limits."):
        if resource.startswith(prefix):
            resource = resource[len(prefix) :]
    many = 1 if amount == 1 else 2  # the plural form; the number shown may be a fraction
    if resource == "cpu":
        return ngettext("%(n)s core", "%(n)s cores", many) % {"n": _number(amount, 2)}
    if resource in _BYTES or resource.startswith("hugepages-"):
        return human_bytes(amount)
    if resource in _GPU_RESOURCES:
        return ngettext("%(n)s GPU", "%(n)s GPUs", many) % {"n": _number(amount)}
    if resource == "pods":
        return ngettext("%(n)s pod", "%(n)s pods", many) % {"n": _number(amount)}
    return _number(amount, 3)


def resources_table(capacity: dict | None, allocatable: dict | None):
    """Resource | Capacity | Allocatable, each with its unit."""
    capacity, allocatable = capacity or {}, allocatable or {}
    names = [
        n for n in ("cpu", "memory", "pods", *_GPU_RESOURCES) if n in capacity or n in allocatable
    ]
    names += sorted((set(capacity) | set(allocatable)) - set(names))
    if not names:
        return _("not synced yet")
    rows = format_html_join(
        "",
        '<tr><th scope="row">{}</th><td>{}</td><td>{}</td></tr>',
        (
            (
                name,
                human_quantity(name, capacity[name]) if name in capacity else "—",
                human_quantity(name, allocatable[name]) if name in allocatable else "—",
            )
            for name in names
        ),
    )
    return format_html(
        '<table class="tke-table"><thead><tr><th scope="col">{}</th><th scope="col">{}</th>'
        '<th scope="col">{}</th></tr></thead><tbody>{}</tbody></table>',
        _("Resource"),
        _("Capacity"),
        _("Allocatable"),
        rows,
    )


def status_badge(status: str):
    css = {"True": "ok", "False": "bad"}.get(str(status), "muted")
    return format_html('<span class="tke-badge tke-{}">{}</span>', css, status)


def phase_badge(phase: str, label: str | None = None):
    return format_html(
        '<span class="tke-badge tke-{}">{}</span>',
        _PHASE_CLASSES.get(phase, "muted"),
        label or phase or _("unknown"),
    )


def conditions_table(conditions: list | None):
    """Type | Status | Reason | Message | Last probe | Last transition."""
    if not conditions:
        return _("none reported")
    rows = format_html_join(
        "",
        '<tr><th scope="row">{}</th><td>{}</td><td>{}</td><td class="tke-wrap">{}</td><td>{}</td>'
        "<td>{}</td></tr>",
        (
            (
                c.get("type", ""),
                status_badge(c.get("status", "Unknown")),
                c.get("reason") or "—",
                c.get("message") or "—",
                _when(c.get("lastProbeTime")),
                _when(c.get("lastTransitionTime")),
            )
            for c in conditions
            if isinstance(c, dict)
        ),
    )
    return table(
        [_("Type"), _("Status"), _("Reason"), _("Message"), _("Last probe"), _("Last transition")],
        rows,
    )


def table(headers, rows):
    """A small table: ``headers`` (text) over ``rows`` (safe HTML of ``<tr>`` elements)."""
    return format_html(
        '<table class="tke-table"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>',
        format_html_join("", '<th scope="col">{}</th>', ((h,) for h in headers)),
        rows,
    )


def _when(value) -> str:
    if not value:
        return "—"
    parsed = parse_datetime(str(value))
    if parsed is None:
        return str(value)
    return date_format(timezone.localtime(parsed), "DATETIME_FORMAT")


def label_chips(labels: dict | None):
    """Labels as ``key = value`` chips (a label without a value shows its key alone)."""
    if not labels:
        return _("none")
    return format_html(
        '<ul class="tke-chips">{}</ul>',
        format_html_join(
            "",
            '<li class="tke-chip"><span class="tke-key">{}</span>{}</li>',
            (
                (key, format_html('<span class="tke-value">{}</span>', value) if value else "")
                for key, value in sorted(labels.items())
            ),
        ),
    )


def chips(values) -> str:
    values = [v for v in values or () if v]
    if not values:
        return _("none")
    return format_html(
        '<ul class="tke-chips">{}</ul>',
        format_html_join("", '<li class="tke-chip">{}</li>', ((v,) for v in values)),
    )


# -- operations (admin actions and object tools) --------------------------------------------
def name_operation(request, action: str, resources: list[str]) -> None:
    """Name the one audit event of this request (written by the audit middleware) as the API
    names the same operation: its action and the resources it addressed."""
    request.audit_action = action
    request.audit_resource = ",".join(resources)[:512] if resources else ""


def refuse(request, action: str, resource: str, reason: str) -> None:
    """The admin's answer to a refused operation: an error message naming the action and the
    resource, and the audit event marked denied."""
    from apps.core.admin_links import console_url

    request.audit_outcome = "denied"
    request.audit_message = f"not allowed to {action} on {resource}: {reason}"
    text = _("You are not allowed to %(action)s on %(resource)s: %(reason)s.") % {
        "action": action,
        "resource": resource,
        "reason": reason,
    }
    why = console_url("console:why")
    if why:
        query = urlencode({"action": action, "resource": resource})
        text = format_html('{} <a href="{}?{}">{}</a>', text, why, query, _("Why can't I?"))
    messages.error(request, text)


def permitted(request, action: str, resource: str, tenant, **kwargs) -> bool:
    """``authz.check`` as the API calls it; a refusal becomes the admin's error message."""
    decision = check(request.user, action, resource, tenant, **kwargs)
    if not decision:
        refuse(request, action, resource, decision.reason)
        return False
    return True


def failed(request, text: str) -> None:
    """An operation the service or the cluster refused (unreachable, invalid): the message,
    and the audit event marked failed unless something was already denied."""
    if getattr(request, "audit_outcome", None) != "denied":
        request.audit_outcome = "failure"
    request.audit_message = text[:1000]
    messages.error(request, text)
