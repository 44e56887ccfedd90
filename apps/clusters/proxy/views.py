"""``POST /api/v1/clusters/<name>/kubeconfig``: a kubeconfig for the current user that points
kubectl at the portal's proxy, with a fresh API key of that user limited to that cluster.

Who may have one: anyone allowed ``getClusterKubeconfig`` on ``cluster:<name>`` among those who
can see the cluster (``getCluster``; others get 404 like for any invisible object). Predefined
policies give it to everyone who may read the cluster (administrator, platform user, read-only
— their ``get*`` includes it — and the members of projects spanning it, whose project policies'
``get*`` is read on the cluster in their project's domain), because a kubeconfig grants nothing
by itself: every request made with it is authorized again by the proxy with the user's own
permissions. Its context's namespace is ``default`` for those who may list pods everywhere,
else the first namespace the user reaches on the cluster. An operator who
wants "console only" users denies ``getClusterKubeconfig`` explicitly.

Why a POST: it mints a credential. A GET could be triggered cross-site (an ``<img>`` or a
link prefetch) and is not audited as a write; a POST needs the CSRF token with a session and
gets exactly one audit row from the audit middleware (the response, holding the key, is never
audited). The key it mints works only for kubectl on that cluster and this endpoint for that
cluster (``APIKey.cluster``), and, when the request itself came with an API key, expires no
later than that key.
"""

from __future__ import annotations

from datetime import timedelta

import yaml
from django.conf import settings
from django.core.exceptions import ValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts import reauth
from apps.accounts.models import APIKey
from apps.accounts.services import create_api_key, parse_duration
from apps.authz import restrict
from apps.authz.enforcer import check
from apps.clusters.models import Cluster
from apps.projects.access import reach
from apps.tenants.scope import resolve_scope

from . import PROXY_ROOT

DEFAULT_LIFETIME = "8h"
DEFAULT_MAX_LIFETIME = timedelta(days=7)
ACTION = "getClusterKubeconfig"


class YAMLRenderer(BaseRenderer):
    """The kubeconfig itself for ``Accept: application/yaml`` or ``?format=yaml``."""

    media_type = "application/yaml"
    format = "yaml"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, dict) and isinstance(data.get("kubeconfig"), str):
            return data["kubeconfig"].encode()
        return yaml.safe_dump(data, sort_keys=False).encode()


def max_lifetime() -> timedelta:
    value = getattr(settings, "PORTAL_KUBECONFIG_MAX_LIFETIME", DEFAULT_MAX_LIFETIME)
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    return parse_duration(str(value))


def _lifetime(raw: str) -> timedelta:
    try:
        lifetime = parse_duration(raw)
    except ValueError as exc:
        raise ValidationError({"expires_in": str(exc)}) from exc
    limit = max_lifetime()
    if lifetime > limit:
        raise ValidationError(
            {"expires_in": f"At most {_human(limit)} for a kubeconfig (asked for {raw})."}
        )
    if lifetime < timedelta(minutes=1):
        raise ValidationError({"expires_in": "At least one minute."})
    return lifetime


def _human(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def default_namespace(user, cluster: Cluster) -> str:
    """The namespace kubectl starts in: ``default`` for whoever may list pods everywhere,
    else the first (by name) namespace the user reaches there — a project member's own
    (``default`` is nobody's project: ``kubectl get pods`` would only be refused there)."""
    found = reach(user, cluster, "listPods", "pod:*")
    if found.everything or not found.namespaces:
        return "default"
    return found.namespaces[0]


def build_kubeconfig(
    *, server: str, cluster: Cluster, user, token: str, namespace: str = "default"
) -> dict:
    context = f"{cluster.name}"
    user_name = f"{user.username}@{cluster.name}"
    entry = {"server": server}
    ca_data = getattr(settings, "PORTAL_KUBECONFIG_CA_DATA", "")
    if ca_data:  # base64 PEM of the CA that signed the portal's certificate, if private
        entry["certificate-authority-data"] = ca_data
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{"name": cluster.name, "cluster": entry}],
        "users": [{"name": user_name, "user": {"token": token}}],
        "contexts": [
            {
                "name": context,
                "context": {"cluster": cluster.name, "user": user_name, "namespace": namespace},
            }
        ],
        "current-context": context,
    }


class KubeconfigRequestSerializer(serializers.Serializer):
    expires_in = serializers.CharField(
        required=False,
        help_text="Lifetime of the key: 30m, 8h, 7d … (default 8h, at most "
        "PORTAL_KUBECONFIG_MAX_LIFETIME; never beyond the API key making the request).",
    )


def _requested_lifetime(request) -> tuple[timedelta, bool]:
    """(lifetime, whether the caller chose it): ``expires_in`` from the body, else the query."""
    raw = None
    if hasattr(request.data, "get"):
        raw = request.data.get("expires_in")
    raw = raw or request.query_params.get("expires_in")
    if raw is not None and not isinstance(raw, str):
        raise ValidationError({"expires_in": "Give a duration such as 8h."})
    return _lifetime(raw or DEFAULT_LIFETIME), bool(raw)


KUBECONFIG_SCHEMA = extend_schema(
    request=KubeconfigRequestSerializer,
    parameters=[
        OpenApiParameter("expires_in", str, description="e.g. 8h (default); or in the body"),
        OpenApiParameter("format", str, enum=["json", "yaml"]),
    ],
    responses={200: OpenApiTypes.OBJECT, (200, "application/yaml"): OpenApiTypes.STR},
)


class KubeconfigDownloadView(APIView):
    """What every kubeconfig download shares (a cluster's, a project's): JSON or the YAML file,
    errors always JSON, keys minted with the same lifetime rules, never cached."""

    renderer_classes = [JSONRenderer, YAMLRenderer]

    def handle_exception(self, exc):
        # A refusal is the API's JSON error whatever format was asked for: a YAML error body
        # saved as a kubeconfig would only confuse kubectl (and is not what the schema says).
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return super().handle_exception(exc)

    def key_minter(self, request):
        """``mint(cluster, description) -> (key, plaintext)``: a new API key of the caller's that
        works only for kubectl on ``cluster``, with the requested lifetime (``expires_in``); a
        request made with an API key gets keys that expire no later than that one (the default
        shrinks to fit, an explicit longer lifetime is a 400). Asked for after authorization:
        a browser session must be recent (``apps.accounts.reauth``) to mint a key."""
        reauth.require_recent_sign_in(request)
        lifetime, chosen = _requested_lifetime(request)

        def mint(cluster, description: str):
            return create_api_key(
                actor=request.user,
                user=request.user,
                expires_in=lifetime,
                description=description,
                parent=request.auth if isinstance(request.auth, APIKey) else None,
                fit_parent=not chosen,
                cluster=cluster,
            )

        return mint

    def server_root(self, request) -> str:
        """Where kubectl should go: ``PORTAL_KUBECONFIG_SERVER`` (the portal's TLS address)
        when set, whichever address the kubeconfig was fetched from — kubectl never sends
        a token over plain http — else the address of this request."""
        configured = getattr(settings, "PORTAL_KUBECONFIG_SERVER", "").rstrip("/")
        base = configured or f"{request.scheme}://{request.get_host()}"
        return f"{base}{PROXY_ROOT}clusters/"

    def answer(self, request, body: dict, filename: str) -> Response:
        response = Response(body)
        response["Cache-Control"] = "no-store"
        if request.accepted_renderer.format == "yaml":
            response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


class ClusterKubeconfigView(KubeconfigDownloadView):
    """A kubeconfig for kubectl through the portal, with a new API key of yours that works
    only for this cluster.

    ``expires_in`` (body or query: ``30m``, ``8h``, ``7d``; default 8h, at most
    ``PORTAL_KUBECONFIG_MAX_LIFETIME``, 7 days unless configured) sets the key's lifetime; a
    request made with an API key gets a key that expires no later than that one (the default
    is shortened to fit, an explicit longer lifetime is a 400). JSON
    ``{"kubeconfig", "expires_at", "cluster", "server"}``, or the YAML itself with
    ``Accept: application/yaml`` / ``?format=yaml``.
    """

    authz_doc = "getClusterKubeconfig on cluster:<name> (getCluster to see it)"

    @KUBECONFIG_SCHEMA
    def post(self, request, name: str):
        raw = request._request
        raw.audit_action = ACTION
        raw.audit_resource = f"cluster:{name}"
        scope = resolve_scope(request)
        visible = restrict(
            Cluster.objects.select_related("tenant").filter(name=name).in_scope(scope),
            request.user,
            "getCluster",
        )
        cluster = visible.first()
        if cluster is None:
            raise exceptions.NotFound(f"Cluster '{name}' not found.")
        decision = check(request.user, ACTION, cluster.authz_resource, tenant=cluster.tenant)
        if not decision:
            raise exceptions.PermissionDenied(
                f"You are not allowed to {ACTION} on {cluster.authz_resource}: {decision.reason}."
            )
        key, plaintext = self.key_minter(request)(cluster, f"kubeconfig for {cluster.name}")
        server = self.server_root(request) + cluster.name
        config = build_kubeconfig(
            server=server,
            cluster=cluster,
            user=request.user,
            token=plaintext,
            namespace=default_namespace(request.user, cluster),
        )
        body = {
            "kubeconfig": yaml.safe_dump(config, sort_keys=False),
            "expires_at": key.expires_at.isoformat(),
            "cluster": cluster.name,
            "server": server,
        }
        return self.answer(request, body, f"kubeconfig-{cluster.name}.yaml")
