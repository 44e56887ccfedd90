"""The registry console: image namespaces (list, create, edit, delete), a namespace's
repositories and a repository's tags, each with the ``docker pull`` command that fetches it.

Authorized like the REST API (``apps/registry/api/``): the namespaces the user may list are
restricted in SQL (``listRegistryNamespaces``); a namespace the user may not get, or another
tenant's, is 404; an action is then checked on the object (403, the console's page).
Repositories and tags are judged on their paths, ``registrynamespace:<ns>/repository:<repo>``
(``…/tag:<tag>``), the paths the registry's token service judges pulls and pushes on.
Writes go through ``apps.registry.services`` and are audited by the audit middleware, named
like the API's (``request.audit_action`` / ``audit_resource``).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q, Sum
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _

from apps.audit.choices import Outcome
from apps.authz.enforcer import check, restrict
from apps.projects.models import Project
from apps.registry import services
from apps.registry.client import RegistryError, RegistryUnreachable
from apps.registry.models import RegistryNamespace, Repository, Tag

from ..forms.images import RegistryNamespaceForm, quota_initial
from .access.common import service_error
from .base import ConsoleDenied, ConsoleView

PAGE_SIZE = 200  # rows a repository or tag list shows (search narrows them)


def registry_host() -> str:
    """Where ``docker`` reaches the registry (``REGISTRY_HOST``), as the API's
    ``repository_prefix`` says it."""
    return settings.REGISTRY_HOST or "<registry>"


def docker_login_name(user) -> str:
    """The ``docker login -u`` name of ``user`` (``<tenant>/<username>``, the token service's
    Basic credentials; a platform administrator has no tenant)."""
    return f"{user.tenant.slug}/{user.username}" if user.tenant_id else user.username


def usage_percent(used: int | None, quota: int | None) -> int | None:
    if not quota:
        return None
    return int(min(100, (used or 0) * 100 / quota))


def level(percent: int | None) -> str:
    percent = percent or 0
    return "danger" if percent >= 90 else "warning" if percent >= 70 else "success"


def field_errors(form, exc: ValidationError, aliases: dict | None = None) -> None:
    """The service's errors next to the form's fields (the others above the form);
    ``aliases`` maps a service field to the form's (``storage_quota_bytes`` → ``quota``)."""
    errors = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
    for field, said in errors.items():
        field = (aliases or {}).get(field, field)
        target = field if field in form.fields else None
        if target is None and field.startswith("values.") and "values" in form.fields:
            # the chart's schema names the value (values.replicas): said on the values field
            target, said = "values", [f"{field[7:]}: {m}" for m in said]
        for message in said:
            form.add_error(target, message)


class RegistryAreaView(ConsoleView):
    """A page or action of the registry area: rows restricted like the API's viewsets, one
    object authorized like its object check, a write's refusal or error shown in the page."""

    def visible(self, queryset, action: str):
        return restrict(queryset.in_scope(self.scope), self.request.user, action)

    def get_visible(self, queryset, action: str, **lookup):
        if any(isinstance(v, str) and "\x00" in v for v in lookup.values()):
            raise Http404
        found = list(self.visible(queryset, action).filter(**lookup)[:2])
        if not found:
            raise Http404(_("Not found."))
        if len(found) > 1:
            # The platform administrator viewing every tenant: names are unique per tenant.
            raise Http404(_("Several tenants have this name: choose a tenant first."))
        return found[0]

    def allowed(self, action: str, resource: str, tenant) -> bool:
        return bool(check(self.request.user, action, resource, tenant=tenant))

    def name_for_audit(self, action: str, resource: str) -> None:
        if not getattr(self.request, "audit_action", None):
            self.request.audit_action, self.request.audit_resource = action, resource

    def authorize_on(self, action: str, resource: str, tenant) -> None:
        """``action`` on ``resource`` of ``tenant`` (the console's 403 otherwise); names the
        audit event after it."""
        self.name_for_audit(action, resource)
        decision = check(self.request.user, action, resource, tenant=tenant)
        if not decision:
            raise ConsoleDenied(action, resource, decision.reason)

    def redirect(self, url: str):
        if self.request.htmx:
            response = HttpResponse(status=200)
            response["HX-Location"] = url
            return response
        return HttpResponseRedirect(url, status=303)

    def note_failure(self, error, denied: bool = False) -> str:
        message = error if isinstance(error, str) else service_error(error)
        self.request.audit_outcome = Outcome.DENIED if denied else Outcome.FAILURE
        self.request.audit_message = message[:2000]
        return message


def visible_namespace(view: RegistryAreaView, name: str) -> RegistryNamespace:
    """The namespace if the user may get it (``getRegistryNamespace``), else 404."""
    return view.get_visible(
        RegistryNamespace.objects.select_related("tenant", "project"),
        "getRegistryNamespace",
        name=name,
    )


# -- namespaces ----------------------------------------------------------------------------------
class NamespaceListView(RegistryAreaView):
    """The image namespaces the user may list, with their repository count and storage."""

    template_name = "console/registry/namespaces.html"
    authz_action = "listRegistryNamespaces"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        rows = list(
            self.visible(
                RegistryNamespace.objects.select_related("tenant", "project"),
                "listRegistryNamespaces",
            )
            .annotate(repository_total=Count("repositories"), used_bytes=Sum("repositories__size"))
            .order_by("name")
        )
        for row in rows:
            row.usage_percent = usage_percent(row.used_bytes, row.storage_quota_bytes)
            row.usage_level = level(row.usage_percent)
            row.may_update = self.allowed("updateRegistryNamespace", row.authz_resource, row.tenant)
            row.may_delete = self.allowed("deleteRegistryNamespace", row.authz_resource, row.tenant)
        tenant = self.scope.tenant
        context.update(
            title=_("Image namespaces"),
            namespaces=rows,
            show_tenant=self.scope.all_tenants,
            registry_host=registry_host(),
            may_create=tenant is not None
            and self.allowed("createRegistryNamespace", "registrynamespace:*", tenant),
        )
        return context


class NamespaceFormView(RegistryAreaView):
    """Create (``createRegistryNamespace``) or edit (``updateRegistryNamespace``) a namespace."""

    template_name = "console/registry/namespace_form.html"
    authz_action = "listRegistryNamespaces"
    creating = True

    def setup_namespace(self):
        if self.creating:
            if self.scope.tenant is None:
                raise ConsoleDenied(
                    "createRegistryNamespace",
                    "registrynamespace:*",
                    _("choose a tenant first (the tenant switcher at the top)"),
                )
            self.authorize_on("createRegistryNamespace", "registrynamespace:*", self.scope.tenant)
            return None
        namespace = visible_namespace(self, self.kwargs["namespace"])
        self.authorize_on("updateRegistryNamespace", namespace.authz_resource, namespace.tenant)
        return namespace

    def projects(self) -> list[str]:
        tenant = self.object.tenant if self.object is not None else self.scope.tenant
        return list(
            restrict(Project.objects.filter(tenant=tenant), self.request.user, "getProject")
            .order_by("name")
            .values_list("name", flat=True)
        )

    def get(self, request, *args, **kwargs):
        self.object = namespace = self.setup_namespace()
        initial = {}
        if namespace is not None:
            amount, unit = quota_initial(namespace.storage_quota_bytes)
            initial = {
                "display_name": namespace.display_name,
                "visibility": namespace.visibility,
                "project": namespace.project.name if namespace.project_id else "",
                "quota": amount,
                "quota_unit": unit,
                "description": namespace.description,
            }
        form = RegistryNamespaceForm(
            initial=initial, projects=self.projects(), editing=namespace is not None
        )
        return self.render_to_response(self.get_context_data(form=form))

    def post(self, request, *args, **kwargs):
        self.object = namespace = self.setup_namespace()
        form = RegistryNamespaceForm(
            request.POST, projects=self.projects(), editing=namespace is not None
        )
        if not form.is_valid():
            self.note_failure(_("Invalid form: %(fields)s") % {"fields": ", ".join(form.errors)})
            return self.render_to_response(self.get_context_data(form=form), status=400)
        data = form.cleaned_data
        tenant = namespace.tenant if namespace is not None else self.scope.tenant
        project = None
        if data.get("project"):
            project = Project.objects.filter(tenant=tenant, name=data["project"]).first()
        fields = {
            "display_name": data.get("display_name", ""),
            "description": data.get("description", ""),
            "visibility": data["visibility"],
            "project": project,
            "storage_quota_bytes": form.quota_bytes(),
        }
        try:
            if namespace is None:
                name = data["name"]
                resource = f"registrynamespace:{name}"
                request.audit_resource = resource
                self.authorize_on("createRegistryNamespace", resource, tenant)
                namespace = services.create_namespace(
                    actor=request.user, tenant=tenant, name=name, **fields
                )
            else:
                namespace = services.update_namespace(
                    actor=request.user, namespace=namespace, **fields
                )
        except ValidationError as exc:
            self.note_failure(exc)
            field_errors(form, exc, {"storage_quota_bytes": "quota"})
            return self.render_to_response(self.get_context_data(form=form), status=400)
        return self.redirect(reverse("console:registry-namespace", args=[namespace.name]))

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        namespace = self.object
        context.update(
            namespace=namespace,
            title=(_("Edit image namespace %(name)s") % {"name": namespace.name})
            if namespace
            else _("New image namespace"),
        )
        return context


class NamespaceDeleteView(RegistryAreaView):
    http_method_names = ["post"]

    def post(self, request, namespace: str):
        found = visible_namespace(self, namespace)
        self.authorize_on("deleteRegistryNamespace", found.authz_resource, found.tenant)
        services.delete_namespace(actor=request.user, namespace=found)
        return self.redirect(reverse("console:registry-namespaces"))


# -- repositories and tags -----------------------------------------------------------------------
class NamespaceView(RegistryAreaView):
    """One namespace: its repositories (searchable), how to push the first image."""

    template_name = "console/registry/namespace.html"
    authz_action = "getRegistryNamespace"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        namespace = visible_namespace(self, kwargs["namespace"])
        query = (self.request.GET.get("q") or "").strip()[:255].replace("\x00", "")
        # The repositories the user may list, restricted in SQL like the API's list.
        repositories = restrict(
            namespace.repositories.all(), self.request.user, "listRepositories"
        ).annotate(tag_total=Count("tags"))
        if query:
            repositories = repositories.filter(
                Q(name__icontains=query) | Q(description__icontains=query)
            )
        rows = list(repositories.order_by("name")[:PAGE_SIZE])
        used = namespace.repositories.aggregate(total=Sum("size"))["total"] or 0
        percent = usage_percent(used, namespace.storage_quota_bytes)
        user = self.request.user
        host = registry_host()
        context.update(
            title=namespace.display_name or namespace.name,
            namespace=namespace,
            repositories=rows,
            truncated=len(rows) == PAGE_SIZE,
            query=query,
            used_bytes=used,
            usage_percent=percent,
            usage_level=level(percent),
            registry_host=host,
            prefix=f"{host}/{namespace.registry_path()}",
            login_name=docker_login_name(user),
            may_update=self.allowed(
                "updateRegistryNamespace", namespace.authz_resource, namespace.tenant
            ),
            may_delete=self.allowed(
                "deleteRegistryNamespace", namespace.authz_resource, namespace.tenant
            ),
        )
        return context


class RepositoryView(RegistryAreaView):
    """One repository: its tags, each with its ``docker pull`` command; deleting a tag
    (``deleteTag``) or the repository (``deleteRepository``) when allowed (POST
    ``operation``)."""

    template_name = "console/registry/repository.html"
    authz_action = "getRegistryNamespace"

    def load(self) -> Repository:
        namespace = visible_namespace(self, self.kwargs["namespace"])
        name = self.kwargs["repository"]
        if "\x00" in name:
            raise Http404
        repository = (
            restrict(
                Repository.objects.filter(namespace=namespace), self.request.user, "getRepository"
            )  # fmt: skip
            .filter(name=name)
            .first()
        )
        if repository is None:
            raise Http404(_("No repository %(name)s in this namespace.") % {"name": name})
        repository.namespace = namespace
        self.request.audit_tenant = namespace.tenant
        return repository

    def get(self, request, *args, **kwargs):
        self.repository = self.load()
        return self.render_to_response(self.get_context_data())

    def post(self, request, *args, **kwargs):
        repository = self.repository = self.load()
        namespace = repository.namespace
        operation = request.POST.get("operation", "")
        try:
            if operation == "delete-tag":
                name = (request.POST.get("tag") or "").replace("\x00", "")[:128]
                tag = (
                    restrict(Tag.objects.filter(repository=repository), request.user, "getTag")
                    .filter(name=name)
                    .first()
                )
                if tag is None:
                    raise Http404(_("No tag %(name)s.") % {"name": name})
                tag.repository = repository
                self.authorize_on("deleteTag", tag.authz_resource, namespace.tenant)
                force = request.POST.get("force") == "true"
                deleted = services.delete_tag(actor=request.user, tag=tag, force=force)
                messages.success(request, _("Deleted: %(tags)s.") % {"tags": ", ".join(deleted)})
                return self.redirect(self.request.path)
            if operation == "delete-repository":
                self.authorize_on("deleteRepository", repository.authz_resource, namespace.tenant)
                services.delete_repository(actor=request.user, repository=repository)
                messages.success(
                    request, _("Repository %(name)s deleted.") % {"name": repository.name}
                )
                return self.redirect(reverse("console:registry-namespace", args=[namespace.name]))
        except services.TagShared as exc:
            self.note_failure(str(exc.detail))
            context = self.get_context_data(
                error=str(exc.detail), shared_tag=request.POST.get("tag", "")
            )
            return self.render_to_response(context, status=200 if request.htmx else 409)
        except (RegistryError, RegistryUnreachable) as exc:
            message = _("The registry refused or could not be reached: %(detail)s") % {
                "detail": exc.detail
            }
            self.note_failure(message)
            return self.render_to_response(
                self.get_context_data(error=message), status=200 if request.htmx else 503
            )
        raise Http404

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        repository = self.repository
        namespace = repository.namespace
        user = self.request.user
        tags = list(
            restrict(Tag.objects.filter(repository=repository), user, "listTags")
            .select_related("pushed_by")
            .order_by("-pushed_at", "name")[:PAGE_SIZE]
        )
        host = registry_host()
        image = f"{host}/{namespace.registry_path()}/{repository.name}"
        for tag in tags:
            tag.repository = repository
            tag.pull = f"docker pull {image}:{tag.name}"
            tag.short_digest = tag.digest.split(":", 1)[-1][:12]
            tag.may_delete = self.allowed("deleteTag", tag.authz_resource, namespace.tenant)
        context.update(
            title=f"{namespace.name}/{repository.name}",
            namespace=namespace,
            repository=repository,
            tags=tags,
            truncated=len(tags) == PAGE_SIZE,
            image=image,
            registry_host=host,
            login_name=docker_login_name(user),
            may_delete_repository=self.allowed(
                "deleteRepository", repository.authz_resource, namespace.tenant
            ),
        )
        return context
