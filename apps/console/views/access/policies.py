"""Policies (list, detail, create and edit with a statement editor offering the action
catalogue), roles and bindings — authorized as ``PolicyViewSet``, ``RoleViewSet`` and
``BindingViewSet``, written through ``apps.authz.services`` (its guards: nobody grants what
they do not hold, nobody lifts a deny from below, an administrator remains)."""

from __future__ import annotations

import re

from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.accounts.models import Group, User
from apps.authz import services
from apps.authz.catalog import KINDS, actions_of
from apps.authz.choices import Effect, PolicyScope
from apps.authz.enforcer import can_any, check
from apps.authz.models import ALL_DOMAINS, Binding, Policy, Role

from .common import AccessView, PermissionDenied, ValidationError

PAGE_SIZE = 50
WILDCARDS = ("*", "get*", "list*", "watch*", "create*", "update*", "delete*")
_STATEMENT_FIELD = re.compile(r"^s-(\d{1,3})-effect$")
_ERROR_KEY = re.compile(r"^statements\[(\d+)\]\.(actions|resources|effect)$")


def catalogue() -> list[dict]:
    """The action catalogue grouped by kind, for the statement editor's choices."""
    return [{"kind": kind, "actions": actions_of(kind)} for kind in KINDS]


def _lines(text: str) -> list[str]:
    return [part.strip() for part in re.split(r"[\n,]", text or "") if part.strip()]


def statements_from(post) -> list[dict]:
    """The editor's rows (``s-<i>-actions``, ``s-<i>-resources``, ``s-<i>-effect``) in
    order; a row left entirely empty is a removed statement."""
    indexes = sorted({int(m.group(1)) for key in post for m in [_STATEMENT_FIELD.match(key)] if m})
    rows = []
    for i in indexes:
        actions = _lines(post.get(f"s-{i}-actions", ""))
        resources = _lines(post.get(f"s-{i}-resources", ""))
        if not actions and not resources:
            continue
        rows.append(
            {"actions": actions, "resources": resources, "effect": post.get(f"s-{i}-effect")}
        )
    return rows


def editor_rows(statements, errors: dict | None = None) -> list[dict]:
    """Statements as the template shows them, each with its own field errors."""
    per_row: dict[int, dict[str, list[str]]] = {}
    for key, messages in (errors or {}).items():
        match = _ERROR_KEY.match(key) or re.match(r"^statements\[(\d+)\]()$", key)
        if match:
            per_row.setdefault(int(match.group(1)), {})[match.group(2) or "statement"] = messages
    return [
        {
            "index": i,
            "actions": "\n".join(s.get("actions", [])),
            "resources": "\n".join(s.get("resources", [])),
            "effect": s.get("effect") or Effect.ALLOW,
            "errors": per_row.get(i, {}),
        }
        for i, s in enumerate(statements)
    ]


class PoliciesView(AccessView):
    template_name = "console/access/policies.html"
    authz_action = "listPolicies"
    title = gettext_lazy("Policies")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        rows = self.visible(Policy.objects.all(), "listPolicies").order_by("-predefined", "name")
        page = Paginator(rows, PAGE_SIZE).get_page(self.request.GET.get("page"))
        tenant = self.scope.tenant
        context.update(
            page=page,
            policies=page.object_list,
            may_create=tenant is not None
            and bool(check(self.request.user, "createPolicy", "policy:*", tenant=tenant)),
        )
        return context


class PolicyView(AccessView):
    template_name = "console/access/policy.html"
    authz_action = "getPolicy"

    def policy(self):
        return self.get_visible(
            Policy.objects.select_related("tenant"), "getPolicy", name=self.kwargs["name"]
        )

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        policy = self.policy()
        self.authorize_object("getPolicy", policy)
        user = self.request.user
        bindings = None
        if can_any(user, "listBindings"):
            bindings = list(
                self.visible(policy.bindings.all(), "listBindings").select_related(
                    "user", "group", "policy"
                )
            )
        roles = (
            list(self.visible(policy.roles.all(), "listRoles"))
            if can_any(user, "listRoles")
            else None
        )
        context.update(
            title=policy.display_name or policy.name,
            policy=policy,
            bindings=bindings,
            roles=roles,
            may_edit=not policy.predefined
            and bool(
                check(user, "updatePolicy", policy.authz_resource, tenant=policy.tenant, obj=policy)
            ),
        )
        return context


class PolicyEditorView(AccessView):
    """Create (``createPolicy`` on ``policy:*``) or edit (``updatePolicy`` on the policy)."""

    template_name = "console/access/policy_form.html"
    creating = True

    def setup_policy(self):
        if self.creating:
            self.tenant = self.authorize_collection("createPolicy", "policy:*")
            return None
        policy = self.get_visible(
            Policy.objects.select_related("tenant"), "getPolicy", name=self.kwargs["name"]
        )
        self.authorize_object("updatePolicy", policy)
        return policy

    def get(self, request, *args, **kwargs):
        self.object = self.setup_policy()
        if self.object is not None and self.object.predefined:
            # Predefined policies are read-only: their page says so.
            return self.redirect(reverse("console:policy", args=[self.object.name]))
        return self.render_to_response(self.get_context_data())

    def post(self, request, *args, **kwargs):
        self.object = policy = self.setup_policy()
        post = request.POST
        statements = statements_from(post)
        fields = {
            "display_name": post.get("display_name", "").strip()[:128],
            "description": post.get("description", "").strip(),
            "scope": post.get("scope") or PolicyScope.PLATFORM,
        }
        name = policy.name if policy is not None else post.get("name", "").strip()[:63]
        try:
            if policy is None:
                if self.tenant is None:
                    raise ValidationError(
                        _("Choose a tenant first (the tenant switcher at the top).")
                    )
                policy = services.create_policy(
                    actor=request.user,
                    tenant=self.tenant,
                    name=name,
                    statements=statements,
                    **fields,
                )
                request.audit_resource = policy.authz_resource
            else:
                policy = services.update_policy(
                    actor=request.user, policy=policy, statements=statements, **fields
                )
        except ValidationError as exc:
            errors = exc.message_dict if hasattr(exc, "error_dict") else {"": exc.messages}
            return self.failed(
                exc,
                rows=editor_rows(statements or [{}], errors),
                values={"name": name, **fields},
                field_errors=errors,
            )
        except PermissionDenied as exc:
            return self.failed(
                exc,
                rows=editor_rows(statements or [{}]),
                values={"name": name, **fields},
            )
        return self.redirect(reverse("console:policy", args=[policy.name]), navigate=True)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        policy = self.object
        if "rows" not in kwargs:
            statements = policy.statements if policy is not None else [{}]
            context["rows"] = editor_rows(statements)
        if "values" not in kwargs:
            context["values"] = {
                "name": policy.name if policy else "",
                "display_name": policy.display_name if policy else "",
                "description": policy.description if policy else "",
                "scope": policy.scope if policy else PolicyScope.PLATFORM,
            }
        context.update(
            title=(_("Edit policy %(name)s") % {"name": policy.name})
            if policy
            else _("New policy"),
            policy=policy,
            catalogue=catalogue(),
            wildcards=WILDCARDS,
            scopes=PolicyScope.choices,
            effects=Effect.choices,
            field_errors=kwargs.get("field_errors") or {},
            # The editor's "Add statement" clones this row (index filled in by access.js).
            blank_row={
                "index": "__i__",
                "actions": "",
                "resources": "",
                "effect": Effect.ALLOW,
                "errors": {},
            },
        )
        return context


class RolesView(AccessView):
    template_name = "console/access/roles.html"
    authz_action = "listRoles"
    title = gettext_lazy("Roles")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        rows = (
            self.visible(Role.objects.all(), "listRoles")
            .prefetch_related(Prefetch("policies", queryset=Policy.objects.only("id", "name")))
            .order_by("name")
        )
        page = Paginator(rows, PAGE_SIZE).get_page(self.request.GET.get("page"))
        tenant = self.scope.tenant
        context.update(
            page=page,
            roles=page.object_list,
            may_create=tenant is not None
            and bool(check(self.request.user, "createRole", "role:*", tenant=tenant)),
        )
        return context


class RoleView(AccessView):
    template_name = "console/access/role.html"
    authz_action = "getRole"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        role = self.get_visible(Role.objects, "getRole", name=self.kwargs["name"])
        self.authorize_object("getRole", role)
        bindings = None
        if can_any(self.request.user, "listBindings"):
            bindings = list(
                self.visible(role.bindings.all(), "listBindings").select_related(
                    "user", "group", "role"
                )
            )
        context.update(
            title=role.display_name or role.name,
            role=role,
            policies=list(role.policies.order_by("name")),
            bindings=bindings,
            may_edit=bool(
                check(
                    self.request.user,
                    "updateRole",
                    role.authz_resource,
                    tenant=role.tenant,
                    obj=role,
                )
            ),
        )
        return context


class RoleEditorView(AccessView):
    """Create (``createRole`` on ``role:*``) or edit (``updateRole`` on the role) a role: its
    names and the policies it bundles (the service refuses bundling what the actor does
    not hold where the role is bound)."""

    template_name = "console/access/role_form.html"
    creating = True

    def setup_role(self):
        if self.creating:
            self.tenant = self.authorize_collection("createRole", "role:*")
            return None
        role = self.get_visible(
            Role.objects.select_related("tenant"), "getRole", name=self.kwargs["name"]
        )
        self.authorize_object("updateRole", role)
        return role

    def get(self, request, *args, **kwargs):
        self.object = self.setup_role()
        return self.render_to_response(self.get_context_data())

    def post(self, request, *args, **kwargs):
        self.object = role = self.setup_role()
        post = request.POST
        tenant = role.tenant if role is not None else self.tenant
        names = [name[:63] for name in post.getlist("policies")][:500]
        values = {
            "name": post.get("name", "").strip()[:63],
            "display_name": post.get("display_name", "").strip()[:128],
            "description": post.get("description", "").strip(),
            "policies": names,
        }
        try:
            if tenant is None:
                raise ValidationError(_("Choose a tenant first (the tenant switcher at the top)."))
            chosen = list(Policy.objects.filter(tenant=tenant, name__in=names))
            unknown = sorted(set(names) - {p.name for p in chosen})
            if unknown:
                raise ValidationError({"policies": [_("Unknown: %s") % ", ".join(unknown)]})
            fields = {k: values[k] for k in ("display_name", "description")}
            if role is None:
                role = services.create_role(
                    actor=request.user,
                    tenant=tenant,
                    name=values["name"],
                    policies=chosen,
                    **fields,
                )
                request.audit_resource = role.authz_resource
            else:
                role = services.update_role(
                    actor=request.user, role=role, policies=chosen, **fields
                )
        except (ValidationError, PermissionDenied) as exc:
            return self.failed(exc, values=values)
        return self.redirect(reverse("console:role", args=[role.name]), navigate=True)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        role = self.object
        if "values" not in kwargs:
            context["values"] = {
                "name": role.name if role else "",
                "display_name": role.display_name if role else "",
                "description": role.description if role else "",
                "policies": [p.name for p in role.policies.all()] if role else [],
            }
        choices = []
        if can_any(self.request.user, "listPolicies"):
            choices = list(
                self.visible(Policy.objects.all(), "listPolicies")
                .order_by("-predefined", "name")
                .only("name", "display_name", "predefined")[:500]
            )
        context.update(
            title=(_("Edit role %(name)s") % {"name": role.name}) if role else _("New role"),
            role=role,
            choices=choices,
        )
        return context


class BindingsView(AccessView):
    template_name = "console/access/bindings.html"
    authz_action = "listBindings"
    title = gettext_lazy("Bindings")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        rows = (
            self.visible(Binding.objects.all(), "listBindings")
            .select_related("user", "group", "policy", "role")
            .order_by("id")
        )
        page = Paginator(rows, PAGE_SIZE).get_page(self.request.GET.get("page"))
        tenant = self.scope.tenant
        may_create = tenant is not None and bool(
            check(user, "createBinding", "binding:*", tenant=tenant)
        )
        choices = {}
        if may_create:
            for key, model, action, field in (
                ("users", User, "listUsers", "username"),
                ("groups", Group, "listGroups", "name"),
                ("policies", Policy, "listPolicies", "name"),
                ("roles", Role, "listRoles", "name"),
            ):
                choices[key] = list(
                    self.visible(model.objects.all(), action)
                    .order_by(field)
                    .values_list(field, flat=True)[:500]
                )
        deletable = set()
        if can_any(user, "deleteBinding"):
            shown = [binding.pk for binding in page.object_list]
            deletable = set(
                self.visible(Binding.objects.filter(pk__in=shown), "deleteBinding").values_list(
                    "pk", flat=True
                )
            )
        context.update(
            page=page,
            bindings=page.object_list,
            may_create=may_create,
            choices=choices,
            deletable=deletable,
            form=kwargs.get("form") or {"domain": ALL_DOMAINS},
        )
        return context


class BindingCreateView(BindingsView):
    """POST: bind a user or group to a policy or role, platform-wide or in a project."""

    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        tenant = self.authorize_collection("createBinding", "binding:*")
        post = request.POST
        form = {
            "subject_kind": post.get("subject_kind", "user"),
            "subject": post.get("subject", "").strip()[:63],
            "target_kind": post.get("target_kind", "policy"),
            "target": post.get("target", "").strip()[:63],
            "domain": post.get("domain", "").strip()[:64] or ALL_DOMAINS,
        }
        try:
            if tenant is None:
                raise ValidationError(_("Choose a tenant first (the tenant switcher at the top)."))
            lookups = {
                "user": (User, "username"),
                "group": (Group, "name"),
                "policy": (Policy, "name"),
                "role": (Role, "name"),
            }
            found = {}
            for which in ("subject", "target"):
                kind = form[f"{which}_kind"]
                if kind not in lookups or (which == "subject") != (kind in ("user", "group")):
                    raise ValidationError({f"{which}_kind": [_("Unknown kind.")]})
                model, field = lookups[kind]
                name = form[which].replace("\x00", "")
                obj = model.objects.filter(tenant=tenant, **{field: name}).first()
                if obj is None:
                    raise ValidationError(
                        {which: [_("No %(kind)s named '%(name)s'.") % {"kind": kind, "name": name}]}
                    )
                found[kind] = obj
            binding = services.create_binding(
                actor=request.user, tenant=tenant, domain=form["domain"], **found
            )
        except (ValidationError, PermissionDenied) as exc:
            return self.failed(exc, form=form)
        request.audit_resource = binding.authz_resource
        return self.redirect(reverse("console:bindings"))


class BindingDeleteView(BindingsView):
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        binding = self.get_visible(
            Binding.objects.select_related("tenant", "user", "group", "policy", "role"),
            "getBinding",
            pk=kwargs["pk"],
        )
        self.authorize_object("deleteBinding", binding)
        try:
            services.delete_binding(actor=request.user, binding=binding)
        except (ValidationError, PermissionDenied) as exc:
            return self.failed(exc)
        return self.redirect(reverse("console:bindings"))
