"""REST endpoints for the Kubernetes resources of a cluster.

Every request: the cluster must be visible to the user (404 otherwise, other tenants
included), then ``authz.check`` decides the TKEStack action on the resource path
(``cluster:<name>/namespace:<ns>/<kind>:<name>``), the audit row is named, and the call goes
through ``resources.py`` → ``k8s.py``. Cluster failures come back as the portal's errors
(503 unreachable, 404, 409, 422 with causes, 403 from the cluster).
"""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers, viewsets
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from apps.authz import check, check_collection, restrict
from apps.authz.catalog import KINDS as CATALOG
from apps.core.api.errors import error_body
from apps.projects import access
from apps.tenants.scope import resolve_scope

from .. import k8s, overview, resources, services, visibility
from ..masking import holds_mask
from ..models import Cluster
from ..privileged import write_denial


class ResourceSchema(AutoSchema):
    """Operation ids from the path's fixed words (``{kind}`` → "resources"), so the same
    viewset mounted at cluster and namespace level gets distinct ids."""

    def get_operation_id(self):
        words = []
        for segment in self.path.strip("/").split("/")[2:]:  # after api/v1
            if segment == "{kind}":
                words.append("resources")
            elif not segment.startswith("{"):
                words.append(segment.replace("-", "_"))
        return "_".join([*words, self.view.action or self.method.lower()])


class _ClusterResourceBase(viewsets.ViewSet):
    """Shared plumbing: cluster lookup, action names, authorization, audit names."""

    permission_classes = [IsAuthenticated]
    schema = ResourceSchema()
    # for manage.py authz_actions: how each action is named
    authz_names = {}

    # -- names ---------------------------------------------------------------------------------
    def _kind(self) -> resources.Kind:
        if "plural" in self.kwargs:  # a custom resource of an installed CRD
            cached = getattr(self, "_custom_kind", None)
            if cached is None:
                with self.client() as client:
                    cached = resources.custom_kind(
                        client,
                        self.kwargs["group"],
                        self.kwargs["version"],
                        self.kwargs["plural"],
                    )
                self._custom_kind = cached
            return cached
        return resources.kind_for(self.kwargs.get("kind", ""))

    def _plural_name(self, kind: resources.Kind) -> str:
        entry = CATALOG.get(kind.authz_name)
        return entry[0] if entry else kind.authz_name + "s"

    def authz_action(self) -> str:
        template = self.authz_names.get(getattr(self, "action", ""), "{verb}{Kind}")
        if "kind" not in self.kwargs and "plural" not in self.kwargs:
            return template.replace("{Kinds}", "<Kinds>").replace("{Kind}", "<Kind>")
        kind = self._kind()
        return template.format(Kind=kind.authz_name, Kinds=self._plural_name(kind), verb="")

    def authz_resource_path(self) -> str:
        if "kind" not in self.kwargs and "plural" not in self.kwargs:
            return "cluster:<cluster>/[namespace:<ns>/]<kind>:<name>"
        return resources.resource_path(
            self.kwargs.get("cluster", "<cluster>"),
            self._kind(),
            self.kwargs.get("namespace"),
            self.kwargs.get("name"),
        )

    # -- cluster and permission ------------------------------------------------------------------
    def cluster(self) -> Cluster:
        cached = getattr(self, "_cluster", None)
        if cached is not None:
            return cached
        scope = resolve_scope(self.request)
        visible = restrict(Cluster.objects.in_scope(scope), self.request.user, "getCluster")
        cluster = (
            visible.select_related("credential", "tenant")
            .filter(name=self.kwargs["cluster"])
            .first()
        )
        if cluster is None:
            raise exceptions.NotFound(f"Cluster '{self.kwargs['cluster']}' not found.")
        self._cluster = cluster
        self.request._request.audit_tenant = cluster.tenant  # audited in the cluster's tenant
        return cluster

    def authorize(self, action: str, resource: str) -> None:
        raw = self.request._request
        raw.audit_action, raw.audit_resource = action, resource
        cluster = self.cluster()
        # A set of objects (a list, a create without a name) must not skip a deny on a member.
        judge = check_collection if "*" in resource else check
        decision = judge(self.request.user, action, resource, tenant=cluster.tenant)
        if not decision:
            raise exceptions.PermissionDenied(
                f"You are not allowed to {action} on {resource}: {decision.reason}."
            )

    def reach(self, action: str, resource: str) -> tuple[str, ...] | None:
        """For a request across the namespaces of the cluster (``resource`` holds
        ``namespace:*``): None when the platform domain allows it everywhere, else the
        namespaces the user may do it in — each judged in its own project's domain
        (:func:`apps.projects.access.reach`). None of them: 403 with the platform's reason."""
        cluster = self.cluster()
        prefix = f"cluster:{cluster.name}/namespace:*"
        segment = resource[len(prefix) + 1 :] if resource != prefix else ""
        found = access.reach(self.request.user, cluster, action, segment)
        if found.everything:
            return None
        if not found.namespaces:
            raise exceptions.PermissionDenied(
                f"You are not allowed to {action} on {resource}: {found.reason}."
            )
        return found.namespaces

    def refuse_privileged(self, kind, namespace: str | None, body) -> None:
        """A Secret or Service whose body has the cluster hand out a privilege-bearing power
        (a service account token, others' traffic) needs that power's action too
        (:mod:`apps.clusters.privileged`)."""
        reason = write_denial(self.request.user, self.cluster(), kind.kind, namespace, body)
        if reason:
            raise exceptions.PermissionDenied(
                f"You are not allowed to write this {kind.kind}: {reason}."
            )

    def client(self) -> k8s.KubeClient:
        return services.client_for(self.cluster())

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if "kind" in self.kwargs:
            self._kind()  # unknown kinds are 404 before anything else
        elif "plural" in self.kwargs:
            self.cluster()  # an invisible cluster is 404 before the CRD is looked up
            self._kind()


def _check_shape(body) -> None:
    """A body whose metadata has the wrong types is a 400 naming the field, not a crash in
    the code that reads it or an opaque answer from the cluster."""
    errors = resources.object_shape_errors(body)
    if errors:
        raise exceptions.ValidationError(errors)


class ClusterResourceViewSet(_ClusterResourceBase):
    """List, get, create, replace and delete one kind of resource of a cluster."""

    authz_names = {
        "list": "list{Kinds}",
        "create": "create{Kind}",
        "retrieve": "get{Kind}",
        "update": "update{Kind}",
        "destroy": "delete{Kind}",
    }

    def _names(self, name=None):
        kind = self._kind()
        namespace = self.kwargs.get("namespace") if kind.namespaced else None
        return (
            kind,
            namespace,
            resources.resource_path(self.kwargs["cluster"], kind, namespace, name),
        )

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def list(self, request, **kwargs):
        """Query: ``labelSelector``, ``fieldSelector``, ``search`` (name contains),
        ``limit`` and ``continue`` (pagination as Kubernetes does it)."""
        kind, namespace, path = self._names()
        across = namespace is None and (kind.namespaced or kind.kind == "Namespace")
        if across:
            raw = request._request
            raw.audit_action, raw.audit_resource = self.authz_action(), path
            within = self.reach(self.authz_action(), path)
        else:
            self.authorize(self.authz_action(), path)
            within = None
        params = request.query_params
        limit = params.get("limit")
        query = {
            "label_selector": params.get("labelSelector"),
            "field_selector": params.get("fieldSelector"),
            "limit": int(limit) if limit and limit.isdigit() and int(limit) else None,
            "cont": params.get("continue"),
            "search": params.get("search"),
        }
        with self.client() as client:
            if within is None:
                page = resources.list_objects(client, kind, namespace, **query)
            elif kind.kind == "Namespace":
                page = resources.list_namespaces_named(client, within, **query)
            else:
                page = resources.list_in_namespaces(client, kind, within, **query)
        if kind.kind == "Secret":
            page["items"] = [resources.mask_secret(item) for item in page["items"]]
        return Response(page)

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def retrieve(self, request, name=None, **kwargs):
        kind, namespace, path = self._names(name)
        self.authorize(self.authz_action(), path)
        with self.client() as client:
            obj = resources.get_object(client, kind, namespace, name)
        return Response(self._reveal(kind, path, obj))

    def _reveal(self, kind, path, obj):
        """Secret values only for those who may revealSecret (get alone shows keys)."""
        if kind.kind != "Secret":
            return obj
        if check_collection(self.request.user, "revealSecret", path, tenant=self.cluster().tenant):
            return obj
        return resources.mask_secret(obj)

    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def create(self, request, **kwargs):
        kind, namespace, _ = self._names()
        _check_shape(request.data)  # before reading the name the decision needs
        name = (request.data.get("metadata") or {}).get("name")
        path = resources.resource_path(self.kwargs["cluster"], kind, namespace, name)
        self.authorize(self.authz_action(), path)
        self.refuse_privileged(kind, namespace, request.data)
        dry_run = request.query_params.get("dryRun") in ("true", "All", "1")
        with self.client() as client:
            obj = resources.create_object(client, kind, namespace, request.data, dry_run)
        return Response(self._reveal(kind, path, obj), status=200 if dry_run else 201)

    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def update(self, request, name=None, **kwargs):
        kind, namespace, path = self._names(name)
        self.authorize(self.authz_action(), path)
        _check_shape(request.data)
        _refuse_mask(kind, request.data)
        self.refuse_privileged(kind, namespace, request.data)
        with self.client() as client:
            obj = resources.replace_object(client, kind, namespace, name, request.data)
        return Response(self._reveal(kind, path, obj))

    @extend_schema(responses={204: None})
    def destroy(self, request, name=None, **kwargs):
        kind, namespace, path = self._names(name)
        self.authorize(self.authz_action(), path)
        with self.client() as client:
            resources.delete_object(client, kind, namespace, name)
        return Response(status=204)


class ScaleSerializer(serializers.Serializer):
    replicas = serializers.IntegerField(min_value=0, max_value=10000)


class RollbackSerializer(serializers.Serializer):
    revision = serializers.IntegerField(
        min_value=0, required=False, help_text="Default: the previous revision"
    )


class WorkloadOperationViewSet(_ClusterResourceBase):
    """Scale, restart, revision history and rollback of workloads; logs and events."""

    authz_names = {
        "scale": "scale{Kind}",
        "restart": "restart{Kind}",
        "revisions": "get{Kind}",
        "rollback": "rollback{Kind}",
        "log": "getPodLog",
        "events": "listEvents",
    }

    def _target(self, name):
        kind = self._kind()
        namespace = self.kwargs.get("namespace") if kind.namespaced else None
        path = resources.resource_path(self.kwargs["cluster"], kind, namespace, name)
        self.authorize(self.authz_action(), path)
        return kind, namespace

    @extend_schema(request=ScaleSerializer, responses=OpenApiTypes.OBJECT)
    def scale(self, request, name=None, **kwargs):
        kind, namespace = self._target(name)
        body = ScaleSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        with self.client() as client:
            return Response(
                resources.scale(client, kind, namespace, name, body.validated_data["replicas"])
            )

    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    def restart(self, request, name=None, **kwargs):
        kind, namespace = self._target(name)
        with self.client() as client:
            return Response(resources.restart(client, kind, namespace, name))

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def revisions(self, request, name=None, **kwargs):
        kind, namespace = self._target(name)
        if kind.plural not in resources.REVISIONED:
            raise exceptions.NotFound(
                "Revision history exists for deployments, statefulsets and daemonsets."
            )
        with self.client() as client:
            return Response({"revisions": resources.revisions(client, kind, namespace, name)})

    @extend_schema(request=RollbackSerializer, responses=OpenApiTypes.OBJECT)
    def rollback(self, request, name=None, **kwargs):
        kind, namespace = self._target(name)
        if kind.plural not in resources.REVISIONED:
            raise exceptions.NotFound(
                "Rollback exists for deployments, statefulsets and daemonsets."
            )
        body = RollbackSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        revision = body.validated_data.get("revision")
        with self.client() as client:
            return Response(resources.rollback(client, kind, namespace, name, revision))

    @extend_schema(responses={(200, "text/plain"): OpenApiTypes.STR})
    def log(self, request, name=None, **kwargs):
        """Query: container, tailLines, sinceSeconds, timestamps, previous, download."""
        kind, namespace = self._target(name)
        if kind.plural != "pods":
            raise exceptions.NotFound("Logs exist for pods.")
        params = request.query_params

        def number(key):
            value = params.get(key)
            if value is None:
                return None
            if not value.isdigit():
                raise exceptions.ValidationError({key: "A whole number."})
            return int(value)

        with self.client() as client:
            text = resources.pod_log(
                client,
                namespace,
                name,
                container=params.get("container"),
                tail_lines=number("tailLines"),
                since_seconds=number("sinceSeconds"),
                timestamps=params.get("timestamps") == "true",
                previous=params.get("previous") == "true",
            )
        response = HttpResponse(text, content_type="text/plain; charset=utf-8")
        if params.get("download"):
            response["Content-Disposition"] = f'attachment; filename="{namespace}-{name}.log"'
        return response

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def events(self, request, name=None, **kwargs):
        kind, namespace = self._target(name)
        # The answer is a list of Events: judged as one too, so a deny on events holds here.
        # A cluster-scoped object's events are in any namespace: those the user may list.
        cluster = self.cluster()
        events = f"cluster:{cluster.name}/namespace:{namespace or '*'}/event:*"
        within = None
        if namespace is None:
            within = self.reach("listEvents", events)
        else:
            decision = check_collection(request.user, "listEvents", events, tenant=cluster.tenant)
            if not decision:
                raise exceptions.PermissionDenied(
                    f"You are not allowed to listEvents on {events}: {decision.reason}."
                )
        with self.client() as client:
            return Response({"items": resources.events_for(client, kind, namespace, name, within)})


class NodeOperationViewSet(_ClusterResourceBase):
    """Cordon, uncordon and drain (drain respects DaemonSets and reports what it evicted)."""

    authz_names = {"cordon": "cordonNode", "uncordon": "uncordonNode", "drain": "drainNode"}

    def _authorize_node(self, name):
        self.kwargs["kind"] = "nodes"
        path = resources.resource_path(self.kwargs["cluster"], resources.KINDS["nodes"], None, name)
        self.authorize(self.authz_action(), path)

    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    def cordon(self, request, name=None, **kwargs):
        self._authorize_node(name)
        with self.client() as client:
            return Response(resources.set_unschedulable(client, name, True))

    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    def uncordon(self, request, name=None, **kwargs):
        self._authorize_node(name)
        with self.client() as client:
            return Response(resources.set_unschedulable(client, name, False))

    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    def drain(self, request, name=None, **kwargs):
        """Draining evicts (deletes) the node's pods in any namespace: it needs deletePod on
        every pod too, so a deny on a namespace's pods also refuses the drain."""
        self._authorize_node(name)
        cluster = self.cluster()
        pods = f"cluster:{cluster.name}/namespace:*/pod:*"
        decision = check_collection(request.user, "deletePod", pods, tenant=cluster.tenant)
        if not decision:
            raise exceptions.PermissionDenied(
                f"Draining evicts pods: you are not allowed to deletePod on {pods}: "
                f"{decision.reason}."
            )
        with self.client() as client:
            return Response(resources.drain(client, name))


def _refuse_mask(kind, body) -> None:
    """A Secret read without revealSecret and sent back would store the mask over the real
    values: refused, as the kubectl proxy does."""
    if kind.kind == "Secret" and holds_mask(body):
        raise exceptions.ValidationError(
            {"data": "The Secret holds the portal's mask (******) instead of values; "
             "send the real values or leave the field out."}
        )  # fmt: skip


class ApplySerializer(serializers.Serializer):
    manifest = serializers.CharField(help_text="One or more YAML/JSON documents")
    namespace = serializers.RegexField(
        resources.DNS_LABEL,
        required=False,
        default="default",
        help_text="Namespace of documents that name none",
        error_messages={"invalid": "A namespace name (lowercase letters, digits and '-')."},
    )


class ApplyViewSet(_ClusterResourceBase):
    """Apply YAML/JSON documents. Every document is dry-run first (server-side); with
    ``?dryRun=true`` only the diffs come back, otherwise all are applied — and nothing is
    applied if any dry run fails. When a real apply fails midway (the cluster refused a
    document the dry run accepted), what was applied before it is rolled back and the
    answer (code ``apply_failed``) says per document what happened."""

    authz_names = {"apply": "create{Kind} / update{Kind} per document"}

    @extend_schema(request=ApplySerializer, responses=OpenApiTypes.OBJECT)
    def apply(self, request, **kwargs):
        body = ApplySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        docs = resources.parse_documents(body.validated_data["manifest"])
        namespace = body.validated_data["namespace"]
        cluster = self.cluster()
        for doc in docs:
            kind = resources.kind_of_document(doc)
            _refuse_mask(kind, doc)
            meta = doc.get("metadata", {})
            ns = (meta.get("namespace") or namespace) if kind.namespaced else None
            path = resources.resource_path(cluster.name, kind, ns, meta["name"])
            for action in (f"create{kind.authz_name}", f"update{kind.authz_name}"):
                self.authorize(action, path)
            self.refuse_privileged(kind, ns, doc)
        self.request._request.audit_action = "applyManifest"
        self.request._request.audit_resource = f"cluster:{cluster.name}"
        manager = f"tkeportal-{request.user.username}"[:128]
        dry_only = request.query_params.get("dryRun") in ("true", "All", "1")
        with self.client() as client:
            previews = [
                resources.apply_document(client, dict(doc), namespace, True, manager)
                for doc in docs
            ]
            if dry_only:
                return Response({"dry_run": True, "results": previews})
            failure, results = resources.apply_documents(
                client, [dict(doc) for doc in docs], namespace, manager
            )
        if failure is None:
            return Response({"dry_run": False, "results": results})
        return _apply_failed(failure, results)


def _apply_failed(failure: k8s.ClusterError, results: list[dict]) -> Response:
    """The failing document's own status and code, a sentence saying what became of the
    documents applied before it, and every document's outcome."""
    failed = next(i for i, r in enumerate(results) if r["action"] == "failed")
    undone = [r for r in results[:failed] if r.get("rollback") in ("deleted", "restored")]
    broken = [r for r in results[:failed] if str(r.get("rollback", "")).startswith("failed")]
    said = f"document {failed + 1} of {len(results)} ({results[failed]['object']}) failed: "
    said += results[failed]["error"]
    if broken:
        said += (
            f" Rolling back failed for {', '.join(r['object'] for r in broken)}: "
            "see each result's rollback."
        )
    elif undone:
        said += f" The {len(undone)} object(s) applied before it were rolled back."
    else:
        said += " Nothing had been changed before it."
    body = error_body("apply_failed", said[0].upper() + said[1:])
    body.update(dry_run=False, rolled_back=not broken, results=results)
    return Response(body, status=failure.status_code)


class OverviewViewSet(viewsets.ViewSet):
    """Every cluster the user can see: phase, version, nodes, capacity, pods — asked
    concurrently within a budget; a cluster slower than the budget is shown with its last
    known inventory and ``stale: true`` (see :mod:`apps.clusters.overview`). Node inventory
    and the pod total only for those who may list them; ``namespaces``: null for whoever
    reaches every namespace, else the namespaces the user reaches there (a project member's
    view, :mod:`apps.clusters.visibility`).

    ``?max_age=<seconds>`` (0–3600, default 0: ask every cluster now): a cluster whose stored
    inventory is younger than that, and whose last health check did not fail since, is
    answered from it without being asked — the console's overview does the same with 60 s,
    so a dashboard polling many clusters does not list every pod of each on every poll."""

    permission_classes = [IsAuthenticated]
    schema = ResourceSchema()
    authz_doc = "listClusters (rows filtered by getCluster per cluster, in SQL)"
    MAX_AGE_LIMIT = 3600

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "max_age",
                OpenApiTypes.INT,
                description="Seconds (0–3600): answer from stored inventory younger than this.",
            )
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def list(self, request):
        raw = request.query_params.get("max_age", "0")
        if not raw.isdigit() or int(raw) > self.MAX_AGE_LIMIT:
            raise exceptions.ValidationError(
                {"max_age": f"A whole number of seconds from 0 to {self.MAX_AGE_LIMIT}."}
            )
        scope = resolve_scope(request)
        clusters = list(
            restrict(Cluster.objects.in_scope(scope), request.user, "listClusters").select_related(
                "credential", "tenant"
            )
        )
        rows = [
            visibility.redact_overview_row(request.user, cluster, row)
            for cluster, row in zip(
                clusters, overview.overview(clusters, fresh_s=float(raw)), strict=True
            )
        ]
        return Response({"count": len(rows), "results": rows})
