"""``GET /api/v1/clusters/<name>/kubeconfig``: a kubeconfig for the current user that points
kubectl at the portal's proxy, with a fresh API key of that user.

Who may have one: anyone allowed ``getClusterKubeconfig`` on ``cluster:<name>`` among those who
can see the cluster (``getCluster``; others get 404 like for any invisible object). Predefined
policies give it to everyone who may read the cluster (administrator, platform user, read-only
— their ``get*`` includes it), because a kubeconfig grants nothing by itself: every request
made with it is authorized again by the proxy with the user's own permissions. An operator who
wants "console only" users denies ``getClusterKubeconfig`` explicitly.
"""

from __future__ import annotations

from datetime import timedelta

import yaml
from django.conf import settings
from django.core.exceptions import ValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.services import create_api_key, parse_duration
from apps.audit.choices import Channel
from apps.audit.services import record_event
from apps.authz import restrict
from apps.authz.enforcer import check
from apps.clusters.models import Cluster
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


def build_kubeconfig(*, server: str, cluster: Cluster, user, token: str) -> dict:
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
                "context": {"cluster": cluster.name, "user": user_name, "namespace": "default"},
            }
        ],
        "current-context": context,
    }


class ClusterKubeconfigView(APIView):
    """A kubeconfig for kubectl through the portal, with a new API key of yours.

    ``expires_in`` (``30m``, ``8h``, ``7d``; default 8h, at most
    ``PORTAL_KUBECONFIG_MAX_LIFETIME``, 7 days unless configured) sets the key's lifetime.
    JSON ``{"kubeconfig", "expires_at", "cluster", "server"}``, or the YAML itself with
    ``Accept: application/yaml`` / ``?format=yaml``.
    """

    renderer_classes = [JSONRenderer, YAMLRenderer]

    @extend_schema(
        parameters=[
            OpenApiParameter("expires_in", str, description="e.g. 8h (default)"),
            OpenApiParameter("format", str, enum=["json", "yaml"]),
        ],
        responses={200: OpenApiTypes.OBJECT, (200, "application/yaml"): OpenApiTypes.STR},
    )
    def get(self, request, name: str):
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
        lifetime = _lifetime(request.query_params.get("expires_in") or DEFAULT_LIFETIME)
        key, plaintext = create_api_key(
            actor=request.user,
            user=request.user,
            expires_in=lifetime,
            description=f"kubeconfig for {cluster.name}",
        )
        server = f"{request.scheme}://{request.get_host()}{PROXY_ROOT}clusters/{cluster.name}"
        config = build_kubeconfig(
            server=server, cluster=cluster, user=request.user, token=plaintext
        )
        # A GET that mints a credential: audited here (the middleware records writes only).
        record_event(
            action=ACTION,
            resource=cluster.authz_resource,
            user=request.user,
            tenant=cluster.tenant,
            channel=Channel.API,
            status_code=200,
            api_key_id=getattr(request.auth, "pk", None),
            source_ip=getattr(raw, "client_ip", None),
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:512],
            method=request.method,
            path=request.get_full_path()[:1024],
            request_id=getattr(raw, "request_id", ""),
            message=f"API key {key.prefix}… issued, expires {key.expires_at.isoformat()}",
        )
        response = Response(
            {
                "kubeconfig": yaml.safe_dump(config, sort_keys=False),
                "expires_at": key.expires_at.isoformat(),
                "cluster": cluster.name,
                "server": server,
            }
        )
        response["Cache-Control"] = "no-store"
        if request.accepted_renderer.format == "yaml":
            response["Content-Disposition"] = (
                f'attachment; filename="kubeconfig-{cluster.name}.yaml"'
            )
        return response
