"""The one pair of form views every registered kind uses (``console:form-new``,
``console:form-edit``), each with a form mode and a YAML mode.

Authorization is the REST API's (``apps/clusters/api/resources.py``): the cluster must be
visible (``getCluster``, else 404), a create needs ``create<Kind>`` on the object's path, an
edit ``update<Kind>`` (and ``get<Kind>`` to show it), YAML applied needs ``create<Kind>`` and
``update<Kind>`` like the API's apply; each decided in the namespace's project domain by the
policy layer. Writes go through ``apps.clusters.resources`` and are audited once, by the
audit middleware, under the API's action names and resource paths.
"""

from __future__ import annotations

import copy

import yaml
from django import forms as djforms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseRedirect
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _

from apps.authz import check, check_collection
from apps.clusters import k8s, resources, services
from apps.clusters.masking import holds_mask
from apps.clusters.models import Cluster
from apps.clusters.privileged import write_denial
from apps.projects import access

from .. import nav
from ..forms.base import DNS_LABEL_RE, digest
from ..forms.registry import form_for, has_form
from .base import ConsoleDenied, ConsoleView
from .kube import visible_cluster

# Fields of a live object that are the cluster's to set: left out of the YAML shown.
_SERVER_FIELDS = ("resourceVersion", "uid", "creationTimestamp", "generation", "managedFields",
                  "selfLink")  # fmt: skip


class ClusterPageMixin:
    """A console page about one cluster: the cluster as the API finds it (visible to the
    user, in the console's tenant scope; otherwise 404), its kind and a client."""

    def get_cluster(self) -> Cluster:
        cached = getattr(self, "_cluster", None)
        if cached is not None:
            return cached
        cluster = visible_cluster(self.request.user, self.scope, self.kwargs["cluster"])
        self.request.audit_tenant = cluster.tenant  # audited in the cluster's tenant
        self._cluster = cluster
        return cluster

    def get_kind(self) -> resources.Kind:
        try:
            return resources.kind_for(self.kwargs["kind"])
        except k8s.ClusterNotFound:
            raise Http404(f"Unknown kind '{self.kwargs['kind']}'.") from None

    def client(self) -> k8s.KubeClient:
        return services.client_for(self.get_cluster())

    def judge(self, action: str, resource: str) -> None:
        """Refuse with the console's 403 as the API refuses (a path holding ``*`` is judged
        as a collection, so a deny on a member is not skipped)."""
        cluster = self.get_cluster()
        decide = check_collection if "*" in resource else check
        decision = decide(self.request.user, action, resource, tenant=cluster.tenant)
        if not decision:
            raise ConsoleDenied(action, resource, decision.reason)

    def audit(self, action: str, resource: str, message: str = "") -> None:
        """Name the audit event the middleware records for this request (as the API does)."""
        self.request.audit_action, self.request.audit_resource = action, resource
        if message:
            self.request.audit_message = message


class ClusterTabsMixin:
    """A cluster page's tabs: the clusters area's partial, given the visible tabs."""

    def cluster_context(self, cluster) -> dict:
        match = getattr(self.request, "resolver_match", None)
        current = match.view_name if match is not None else ""
        return {
            "cluster": cluster,
            "cluster_tabs": nav.visible_cluster_tabs(self.request.user, cluster.name, current),
        }


def object_yaml(obj: dict) -> str:
    """The object as a user edits it: without status and the fields the server sets."""
    clean = copy.deepcopy(obj)
    clean.pop("status", None)
    meta = clean.get("metadata") or {}
    for key in _SERVER_FIELDS:
        meta.pop(key, None)
    return yaml.safe_dump(clean, sort_keys=False, allow_unicode=True)


class ObjectFormView(ClusterTabsMixin, ClusterPageMixin, ConsoleView):
    """Create (no ``name`` in the URL) or edit one object through its registered form, or
    through its YAML with a server-side dry-run diff."""

    template_name = "console/forms/page.html"

    # -- what is asked -----------------------------------------------------------------------------
    def authorize(self) -> None:
        kind = self.get_kind()
        if not has_form(kind.plural):
            raise Http404(f"No form for {kind.plural}.")
        self.kind = kind
        self.form_class = form_for(kind.plural)
        self.creating = "name" not in self.kwargs
        cluster = self.get_cluster()
        self.name = self.kwargs.get("name")
        namespace = self.kwargs.get("namespace")
        self.namespace = namespace if kind.namespaced and namespace not in (None, "-") else None
        if kind.namespaced and not self.creating and not self.namespace:
            raise Http404("A namespaced object needs its namespace.")
        if self.request.method == "POST":
            # Named before deciding, as the API does: a refusal is audited under the action.
            verb = "create" if self.creating else "update"
            self.audit(f"{verb}{kind.authz_name}", self.path(self.namespace, self.name))
        if self.creating:
            self.choices = self._creatable_namespaces()
        else:
            path = self.path(self.namespace, self.name)
            self.judge(f"get{kind.authz_name}", path)
            self.judge(f"update{kind.authz_name}", path)
        self.cluster = cluster

    def _creatable_namespaces(self):
        """None: anywhere (the platform domain allows it); else the namespaces the user may
        create this kind in (each judged in its project's domain). None of them: 403."""
        if not self.kind.namespaced:
            self.judge(f"create{self.kind.authz_name}", self.path(None, None))
            return None
        action = f"create{self.kind.authz_name}"
        segment = f"{self.kind.authz_name.lower()}:*"
        found = access.reach(self.request.user, self.get_cluster(), action, segment)
        if found.everything:
            return None
        if not found.namespaces:
            raise ConsoleDenied(action, self.path(None, None), found.reason)
        return found.namespaces

    def path(self, namespace, name) -> str:
        return resources.resource_path(self.kwargs["cluster"], self.kind, namespace, name)

    # -- pages -------------------------------------------------------------------------------------
    def get(self, request, *args, **kwargs):
        live, error = None, ""
        if not self.creating:
            try:
                live = self.fetch()
            except k8s.ClusterError as exc:
                return self.page(None, error=str(exc.detail), status=exc.status_code)
        if request.GET.get("mode") == "yaml":
            text = object_yaml(self.shown(live)) if live else self.sample_yaml()
            return self.page(None, mode="yaml", manifest=text)
        return self.page(self.make_form(None, live), error=error)

    def post(self, request, *args, **kwargs):
        if request.POST.get("mode") == "yaml":
            return self.post_yaml()
        live = None
        if not self.creating:
            try:
                live = self.fetch()
            except k8s.ClusterError as exc:
                return self.page(None, error=str(exc.detail), status=exc.status_code)
        form = self.make_form(request.POST, live)
        switching = request.POST.get("action") == "yaml"
        if not form.is_valid():
            return self.page(form, status=400)
        if not self.creating and form.cleaned_data.get("basis") != digest(live):
            # Someone changed the object since the form was opened: say so, show the form as
            # the user left it, and let a second save go over the new version.
            data = request.POST.copy()
            data["basis"] = digest(live)
            form = self.make_form(data, live)
            form.is_valid()
            form.top_errors.append(
                _("The object was changed in the cluster since you opened this form. Your "
                  "changes are kept below; save again to apply them over the new version.")
            )  # fmt: skip
            return self.page(form, status=409)
        namespace = self.namespace
        if self.creating:
            namespace = form.cleaned_data.get("namespace") if self.kind.namespaced else None
            name = form.cleaned_data["name"]
        else:
            name = self.name
        path = self.path(namespace, name)
        action = f"{'create' if self.creating else 'update'}{self.kind.authz_name}"
        if self.creating:
            self.judge(action, path)
        obj = form.build(namespace)
        if switching:
            self.audit(action, path, "form switched to YAML: nothing written")
            return self.page(None, mode="yaml", manifest=object_yaml(obj))
        self.audit(action, path)
        denial = write_denial(request.user, self.cluster, self.kind.kind, namespace, obj)
        if denial:
            raise ConsoleDenied(action, path, denial)
        try:
            self.write(form, obj, namespace, live)
        except k8s.ClusterInvalid as exc:
            form.add_cluster_errors(exc.fields, str(exc.detail))
            return self.page(form, status=422)
        except k8s.ClusterError as exc:
            form.top_errors.append(str(exc.detail))
            return self.page(form, status=exc.status_code)
        except ValidationError as exc:
            form.top_errors.extend(_messages(exc))
            return self.page(form, status=400)
        if self.creating:
            messages.success(request, _("%(kind)s %(name)s created.") % {"kind": self.kind.kind,
                                                                        "name": name})  # fmt: skip
        else:
            messages.success(request, _("%(kind)s %(name)s saved.") % {"kind": self.kind.kind,
                                                                      "name": name})  # fmt: skip
        return self.done(namespace, name)

    def write(self, form, obj: dict, namespace, live) -> None:
        with self.client() as client:
            if self.creating:
                resources.create_object(client, self.kind, namespace, obj)
                return
            for attempt in range(3):
                try:
                    resources.replace_object(client, self.kind, namespace, self.name, obj)
                    return
                except k8s.ClusterConflict:
                    # Only the status moved (the controller's resourceVersion bump): merge the
                    # form again into the current object; a real change to it is a conflict.
                    current = resources.get_object(client, self.kind, namespace, self.name)
                    if attempt == 2 or digest(current) != digest(live):
                        raise
                    obj = form.merge_into(current)

    # -- YAML mode ---------------------------------------------------------------------------------
    def post_yaml(self):
        text = self.request.POST.get("manifest", "")
        preview = self.request.POST.get("action") != "apply"
        cluster = self.cluster
        self.audit("applyManifest", f"cluster:{cluster.name}")
        try:
            docs = resources.parse_documents(text)
        except ValidationError as exc:
            return self.page(None, mode="yaml", manifest=text, errors=_messages(exc), status=400)
        problems = []
        if len(docs) != 1:
            problems.append(_("Send exactly one object here."))
        doc = docs[0]
        meta = doc.get("metadata") or {}
        if doc.get("kind") != self.kind.kind or doc.get("apiVersion") != self.kind.api_version:
            problems.append(
                _("This page edits a %(kind)s (%(api)s).")
                % {"kind": self.kind.kind, "api": self.kind.api_version}
            )
        namespace = self.namespace
        if self.kind.namespaced:
            namespace = meta.get("namespace") or namespace or "default"
            if not self.creating and namespace != self.namespace:
                problems.append(_("The namespace differs from the object's."))
        if not self.creating and meta.get("name") != self.name:
            problems.append(_("The name differs from the object's."))
        if self.kind.kind == "Secret" and holds_mask(doc):
            problems.append(_("The Secret holds the portal's mask (******) instead of values."))
        if problems:
            return self.page(None, mode="yaml", manifest=text, errors=problems, status=400)
        path = self.path(namespace, meta["name"])
        for action in (f"create{self.kind.authz_name}", f"update{self.kind.authz_name}"):
            self.judge(action, path)
        denial = write_denial(self.request.user, cluster, self.kind.kind, namespace, doc)
        if denial:
            raise ConsoleDenied(f"update{self.kind.authz_name}", path, denial)
        manager = f"tkeportal-{self.request.user.username}"[:128]
        try:
            with self.client() as client:
                result = resources.apply_document(client, dict(doc), namespace, True, manager)
                if preview:
                    if self.kind.kind == "Secret" and not self._reveals(path):
                        result["diff"] = _("(values of a Secret are not shown)")
                    return self.page(None, mode="yaml", manifest=text, diff=result)
                failure, results = resources.apply_documents(
                    client, [dict(doc)], namespace, manager
                )
        except k8s.ClusterInvalid as exc:
            errors = [f"{field}: {'; '.join(said)}" for field, said in exc.fields.items()]
            return self.page(
                None, mode="yaml", manifest=text, errors=[str(exc.detail), *errors], status=422
            )
        except k8s.ClusterError as exc:
            return self.page(
                None, mode="yaml", manifest=text, errors=[str(exc.detail)], status=exc.status_code
            )
        if failure is not None:
            errors = [str(failure.detail)]
            errors += [f"{f}: {'; '.join(s)}" for f, s in getattr(failure, "fields", {}).items()]
            return self.page(
                None, mode="yaml", manifest=text, errors=errors, status=failure.status_code
            )
        messages.success(
            self.request,
            _("%(kind)s %(name)s applied (%(action)s).")
            % {"kind": self.kind.kind, "name": meta["name"], "action": results[0]["action"]},
        )
        return self.done(namespace, meta["name"])

    # -- helpers -----------------------------------------------------------------------------------
    def fetch(self) -> dict:
        with self.client() as client:
            return resources.get_object(client, self.kind, self.namespace, self.name)

    def _reveals(self, path: str) -> bool:
        return bool(
            check_collection(self.request.user, "revealSecret", path, tenant=self.cluster.tenant)
        )

    def shown(self, obj: dict) -> dict:
        """Secret values only for those who may revealSecret (as the API's get)."""
        if self.kind.kind == "Secret" and not self._reveals(self.path(self.namespace, self.name)):
            return resources.mask_secret(obj)
        return obj

    def make_form(self, data, live):
        kwargs = {"live": live}
        form = self.form_class(data, **kwargs)
        if self.creating and self.kind.namespaced:
            if self.choices is None:
                field = djforms.RegexField(
                    label=_("Namespace"), regex=DNS_LABEL_RE, max_length=63, initial="default"
                )
            else:
                field = djforms.ChoiceField(
                    label=_("Namespace"), choices=[(n, n) for n in self.choices]
                )
            form.fields = {"namespace": field, **form.fields}
        return form

    def sample_yaml(self) -> str:
        namespace = "default" if self.choices is None else self.choices[0]
        form = self.form_class()
        try:
            sample = form.skeleton(namespace if self.kind.namespaced else None, "example")
        except (NotImplementedError, KeyError):
            sample = {"apiVersion": self.kind.api_version, "kind": self.kind.kind,
                      "metadata": {"name": "example"}}  # fmt: skip
        return yaml.safe_dump(sample, sort_keys=False)

    def done(self, namespace, name):
        url = self.form_class.done_url(self.kwargs["cluster"], self.kind, namespace, name)
        if self.request.htmx:
            response = HttpResponseRedirect(url)
            response.status_code = 204
            response["HX-Redirect"] = url
            return response
        return HttpResponseRedirect(url)

    def page(self, form, *, mode="form", status=200, **extra):
        context = self.get_context_data(
            form=form,
            mode=mode,
            kind=self.kind,
            **self.cluster_context(self.get_cluster()),
            namespace=self.namespace,
            name=self.name,
            creating=self.creating,
            form_url=self.request.path,
            **extra,
        )
        if self.creating:
            context["title"] = _("New %(kind)s") % {"kind": self.kind.kind}
        else:
            context["title"] = _("Edit %(kind)s %(name)s") % {
                "kind": self.kind.kind,
                "name": self.name,
            }
        try:
            context["cancel_url"] = (
                self.form_class.done_url(
                    self.kwargs["cluster"], self.kind, self.namespace, self.name
                )
                if not self.creating
                else ""
            )
        except NoReverseMatch:
            context["cancel_url"] = ""
        return self.render_to_response(context, status=status)


def _messages(exc: ValidationError) -> list[str]:
    if hasattr(exc, "message_dict"):
        return [f"{field}: {'; '.join(said)}" for field, said in exc.message_dict.items()]
    return list(exc.messages)


def default_done_url(cluster: str, kind, namespace, name) -> str:
    """Where a saved object is shown: its console page when the console has one."""
    try:
        return reverse(
            "console:object",
            kwargs={
                "cluster": cluster,
                "namespace": namespace or "-",
                "kind": kind.plural,
                "name": name,
            },  # fmt: skip
        )
    except NoReverseMatch:
        return reverse(
            "console:form-edit",
            kwargs={
                "cluster": cluster,
                "namespace": namespace or "-",
                "kind": kind.plural,
                "name": name,
            },  # fmt: skip
        )
