"""``GET /api/v1/metrics/``: the points of one or more catalogue metrics of one object (or of
every object of a level the caller may read) over a time range.

    ?cluster=<name>&level=pod&object=web/api-1&metric=k8s_pod_cpu_core_used,mem_usage_bytes
     &start=<RFC 3339 | unix s>&end=…&step=60s|5m|1h|<seconds>[&namespace=web]

Answer::

    {"cluster": "cls-…", "level": "pod", "start": 1764583200, "end": …, "step": 60,
     "resolution": "1m", "truncated": false,
     "series": [{"object": "web/api-1", "metric": "k8s_pod_cpu_core_used",
                 "display_name": "CPU used", "unit": "core", "unit_display": "CPU cores",
                 "labels": {"cluster": …, "namespace": "web", "pod": "api-1", …},
                 "points": [[1764583260, 0.25], …]}]}

Each point is the average of what was collected in the step ending at its timestamp
(apps.monitoring.store.range_query); steps without data have no point.
"""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.tenants.scope import resolve_scope

from .. import query, store
from ..catalog import object_labels


class MetricsView(APIView):
    """Time series of the metric catalogue for charts and scripts."""

    authz_doc = (
        "listMetrics on the object's path + /metric:* (cluster:<c>/metric:*, "
        "cluster:<c>/namespace:<ns>/pod:<p>/metric:* …), in the owning project's domain for "
        "namespaces; getCluster to find the cluster"
    )
    permission_classes = [IsAuthenticated]

    @extend_schema(
        parameters=[
            OpenApiParameter("cluster", str, required=True),
            OpenApiParameter("level", str, required=True, enum=list(query.LEVELS)),
            OpenApiParameter("object", str, description="The object key; all objects if absent"),
            OpenApiParameter("namespace", str, description="Without object: this namespace only"),
            OpenApiParameter("metric", str, required=True, description="Comma-separated names"),
            OpenApiParameter("start", str),
            OpenApiParameter("end", str),
            OpenApiParameter("step", str),
        ],
        responses={200: dict},
    )
    def get(self, request):
        params = request.query_params
        try:
            level = query.parse_level(params.get("level"))
            metrics = query.parse_metrics(level, params.get("metric"))
            rng = query.parse_range(params.get("start"), params.get("end"), params.get("step"))
            key = params.get("object")
            if key is not None:
                _check_key(level, key)
        except query.QueryError as error:
            raise exceptions.ValidationError({error.field: [error.message]}) from None
        name = params.get("cluster") or ""
        if not name:
            raise exceptions.ValidationError({"cluster": [_("name the cluster")]})
        cluster = query.visible_clusters(request.user, resolve_scope(request)).filter(name=name)
        cluster = cluster.first()
        if cluster is None:
            raise exceptions.NotFound(_("Cluster '%(name)s' not found.") % {"name": name})
        truncated = False
        if key is not None:
            path = query.object_path(cluster.name, level, key)
            if not query.may_read(request.user, cluster, level, key):
                raise exceptions.PermissionDenied(
                    _("You are not allowed to %(action)s on %(path)s.")
                    % {"action": query.ACTION, "path": path}
                )
            found = list(query.Series.objects.filter(cluster=cluster, level=level, key=key))
        else:
            found = []
            for series in query.readable_series(
                request.user, cluster, level, namespace=params.get("namespace") or None
            ):
                if len(found) == query.MAX_OBJECTS:
                    truncated = True
                    break
                found.append(series)
        out = []
        for metric in metrics:
            values = query.points(found, level, metric.name, rng)
            for series in found:
                out.append(
                    {
                        "object": series.key,
                        "metric": metric.full_name(level),
                        "display_name": _(metric.display),
                        **query.unit_of(metric),
                        "labels": query.series_labels(cluster.name, series),
                        "points": [
                            [query.unix(ts), query.clean(v)] for ts, v in values.get(series.pk, [])
                        ],
                    }
                )
        return Response(
            {
                "cluster": cluster.name,
                "level": level,
                "start": query.unix(rng.start),
                "end": query.unix(rng.end),
                "step": rng.step.total_seconds(),
                "resolution": store.resolution_for(rng.start, rng.step),
                "truncated": truncated,
                "series": out,
            }
        )


def _check_key(level: str, key: str) -> None:
    """An object key of the level's shape (catalog.py): ``ns/pod``, ``ns/Kind/name`` …"""
    parts = {"cluster": 0, "node": 1, "namespace": 1, "workload": 3, "pod": 2, "container": 3}
    expected = parts[level]
    pieces = key.split("/") if key else []
    if len(pieces) != expected or not all(pieces):
        shapes = {
            "cluster": _("empty (the cluster itself)"),
            "node": "<node>",
            "namespace": "<namespace>",
            "workload": "<namespace>/<Kind>/<name>",
            "pod": "<namespace>/<pod>",
            "container": "<namespace>/<pod>/<container>",
        }
        raise query.QueryError(
            "object",
            _("a %(level)s object is named %(shape)s") % {"level": level, "shape": shapes[level]},
        )
    object_labels(level, key)
