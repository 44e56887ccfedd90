"""A Prometheus-compatible HTTP API over the metric store, so Grafana's Prometheus data source
(or any Prometheus client) can read the portal: ``/api/v1/query_range``, ``/api/v1/query``,
``/api/v1/labels``, ``/api/v1/label/<name>/values``, ``/api/v1/series``,
``/api/v1/metadata`` and ``/api/v1/status/buildinfo``, with Prometheus' exact JSON shapes
(``{"status": "success", "data": …}``; errors ``{"status": "error", "errorType": "bad_data",
"error": …}`` with 400, ``execution`` with 422).

Grafana: URL ``https://<portal>/`` (Grafana appends ``/api/v1/…``), a custom header
``Authorization: Bearer <API key>``; GET or POST (form) both work. The query language is the
subset of apps.monitoring.promql; results hold what the key's user may read.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.tenants.scope import resolve_scope

from .. import promql, query
from ..catalog import BY_FULL_NAME, CATALOG, UNITS
from ..promql_eval import BadData, Evaluator, ExecutionError, Grid, matrix, vector

LABELS = (
    "__name__",
    "cluster",
    "container",
    "namespace",
    "node",
    "pod",
    "workload_kind",
    "workload_name",
)
# Label values listed at most (label/<name>/values).
MAX_VALUES = 10_000


# OpenAPI: Prometheus' own shapes, for successes and for every error (not the portal's Error).
PROMETHEUS_SUCCESS = inline_serializer(
    "PrometheusSuccess",
    {
        "status": serializers.ChoiceField(choices=["success"]),
        "data": serializers.JSONField(),
        "warnings": serializers.ListField(child=serializers.CharField(), required=False),
    },
)
PROMETHEUS_ERROR = inline_serializer(
    "PrometheusError",
    {
        "status": serializers.ChoiceField(choices=["error"]),
        "errorType": serializers.CharField(),
        "error": serializers.CharField(),
    },
)
RESPONSES = {
    200: PROMETHEUS_SUCCESS,
    **{status: PROMETHEUS_ERROR for status in (400, 401, 403, 404, 405, 415, 422, 429, 503)},
}


def _form(name: str, fields: tuple[str, ...]):
    """The parameters of a POST, as Prometheus takes them: a form (the query string works
    too)."""
    return {
        "application/x-www-form-urlencoded": inline_serializer(
            name, {field: serializers.CharField(required=False) for field in fields}
        )
    }


def error(kind: str, message: str, status: int) -> Response:
    return Response({"status": "error", "errorType": kind, "error": message}, status=status)


def success(data) -> Response:
    return Response({"status": "success", "data": data})


class PrometheusView(APIView):
    """Prometheus' answers and error shape, for whatever goes wrong (401/403/404 too)."""

    authz_doc = "listMetrics per series (results filtered; getCluster to see a cluster)"
    permission_classes = [IsAuthenticated]
    parser_classes = [FormParser, MultiPartParser]
    renderer_classes = [JSONRenderer]

    def handle_exception(self, exc):
        response = super().handle_exception(exc)
        if isinstance(exc, exceptions.APIException):
            detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
            kinds = {401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "bad_data"}
            response.data = {
                "status": "error",
                "errorType": kinds.get(response.status_code, "bad_data"),
                "error": str(detail),
            }
        return response

    def param(self, request, name: str, default: str | None = None) -> str | None:
        if name in request.query_params:
            return request.query_params.get(name)
        if request.method == "POST" and name in request.data:
            return request.data.get(name)
        return default

    def params(self, request, name: str) -> list[str]:
        found = list(request.query_params.getlist(name))
        if request.method == "POST" and hasattr(request.data, "getlist"):
            found += request.data.getlist(name)
        return found


def _time(value: str | None, name: str, default: datetime | None = None) -> datetime:
    if value in (None, "") and default is not None:
        return default
    try:
        return query.parse_time(value or "")
    except ValueError:
        raise BadData(
            f'invalid parameter "{name}": cannot parse "{value or ""}" to a valid timestamp'
        ) from None


def _run(request, text: str | None, grid: Grid):
    if not text:
        raise BadData('invalid parameter "query": 1:1: parse error: no expression found in input')
    try:
        node = promql.parse(text)
    except promql.ParseError as problem:
        raise BadData(str(problem)) from None
    evaluator = Evaluator(request.user, resolve_scope(request), grid)
    return evaluator.evaluate(node)


class RangeQueryView(PrometheusView):
    """``query``, ``start``, ``end``, ``step``: a matrix."""

    @extend_schema(responses=RESPONSES)
    def get(self, request):
        return self.answer(request)

    @extend_schema(
        request=_form("PrometheusRangeQueryForm", ("query", "start", "end", "step", "timeout")),
        responses=RESPONSES,
    )
    def post(self, request):
        return self.answer(request)

    def answer(self, request):
        try:
            start = _time(self.param(request, "start"), "start")
            end = _time(self.param(request, "end"), "end")
            if end < start:
                raise BadData(
                    'invalid parameter "end": end timestamp must not be before start time'
                )
            raw_step = self.param(request, "step") or ""
            try:
                step = query.parse_duration(raw_step)
            except ValueError:
                raise BadData(
                    f'invalid parameter "step": cannot parse "{raw_step}" to a valid duration'
                ) from None
            grid = Grid(start, end, step)
            if grid.count > query.MAX_POINTS:
                raise BadData(
                    "exceeded maximum resolution of 11,000 points per timeseries. Try "
                    "decreasing the query resolution (?step=XX)"
                )
            return success(matrix(grid, _run(request, self.param(request, "query"), grid)))
        except BadData as problem:
            return error("bad_data", str(problem), 400)
        except ExecutionError as problem:
            return error("execution", str(problem), 422)


class InstantQueryView(PrometheusView):
    """``query`` at ``time`` (now by default): a vector or a scalar."""

    @extend_schema(responses=RESPONSES)
    def get(self, request):
        return self.answer(request)

    @extend_schema(
        request=_form("PrometheusInstantQueryForm", ("query", "time", "timeout")),
        responses=RESPONSES,
    )
    def post(self, request):
        return self.answer(request)

    def answer(self, request):
        try:
            at = _time(self.param(request, "time"), "time", default=datetime.now(UTC))
            grid = Grid(at, at, query.parse_duration("1"), instant=True)
            return success(vector(grid, _run(request, self.param(request, "query"), grid)))
        except BadData as problem:
            return error("bad_data", str(problem), 400)
        except ExecutionError as problem:
            return error("execution", str(problem), 422)


def _matched_labels(request, view, matches: list[str]) -> list[dict]:
    """The label sets of the series the ``match[]`` selectors pick (last hour by default)."""
    now = datetime.now(UTC)
    end = _time(view.param(request, "end"), "end", default=now)
    start = _time(view.param(request, "start"), "start", default=end - timedelta(hours=1))
    if end < start:
        raise BadData('invalid parameter "end": end timestamp must not be before start time')
    seen: dict[tuple, dict] = {}
    for text in matches:
        try:
            node = promql.parse(text)
        except promql.ParseError as problem:
            raise BadData(f'invalid parameter "match[]": {problem}') from None
        if not isinstance(node, promql.Selector):
            raise BadData(f'invalid parameter "match[]": {text!r} is not a series selector')
        step = max(end - start, timedelta(minutes=1))
        evaluator = Evaluator(request.user, resolve_scope(request), Grid(start, end, step))
        for labels, _values in evaluator.select(node):
            seen.setdefault(tuple(sorted(labels.items())), dict(sorted(labels.items())))
    return [seen[k] for k in sorted(seen)]


class SeriesView(PrometheusView):
    """``match[]`` (one or more selectors): the label sets of the matching series."""

    @extend_schema(responses=RESPONSES)
    def get(self, request):
        return self.answer(request)

    @extend_schema(
        request=_form("PrometheusSeriesForm", ("match[]", "start", "end")), responses=RESPONSES
    )
    def post(self, request):
        return self.answer(request)

    def answer(self, request):
        matches = self.params(request, "match[]")
        if not matches:
            return error("bad_data", "no match[] parameter provided", 400)
        try:
            return success(_matched_labels(request, self, matches))
        except BadData as problem:
            return error("bad_data", str(problem), 400)
        except ExecutionError as problem:
            return error("execution", str(problem), 422)


class LabelsView(PrometheusView):
    """The label names (of the ``match[]`` series when given)."""

    @extend_schema(responses=RESPONSES)
    def get(self, request):
        return self.answer(request)

    @extend_schema(
        request=_form("PrometheusLabelsForm", ("match[]", "start", "end")), responses=RESPONSES
    )
    def post(self, request):
        return self.answer(request)

    def answer(self, request):
        matches = self.params(request, "match[]")
        if not matches:
            return success(list(LABELS))
        try:
            names = {k for labels in _matched_labels(request, self, matches) for k in labels}
        except BadData as problem:
            return error("bad_data", str(problem), 400)
        except ExecutionError as problem:
            return error("execution", str(problem), 422)
        return success(sorted(names))


class LabelValuesView(PrometheusView):
    """The values of one label: metric names (``__name__``), the caller's cluster names, or
    the values in the series they may read."""

    @extend_schema(responses=RESPONSES)
    def get(self, request, name: str):
        matches = self.params(request, "match[]")
        try:
            if matches:
                values = {
                    labels[name]
                    for labels in _matched_labels(request, self, matches)
                    if name in labels
                }
                return success(sorted(values))
        except BadData as problem:
            return error("bad_data", str(problem), 400)
        except ExecutionError as problem:
            return error("execution", str(problem), 422)
        if name == "__name__":
            return success(sorted(BY_FULL_NAME))
        clusters = list(query.visible_clusters(request.user, resolve_scope(request)))
        if name == "cluster":
            return success(sorted(c.name for c in clusters))
        if name not in LABELS:
            return success([])
        values: set[str] = set()
        for cluster in clusters:
            for level in CATALOG:
                for series in query.readable_series(request.user, cluster, level):
                    value = query.series_labels(cluster.name, series).get(name)
                    if value:
                        values.add(value)
                    if len(values) >= MAX_VALUES:
                        return success(sorted(values))
        return success(sorted(values))


class MetadataView(PrometheusView):
    """Each catalogue metric: a gauge, its display name and unit as help."""

    authz_doc = "authenticated (the metric catalogue)"

    @extend_schema(responses=RESPONSES)
    def get(self, request):
        wanted = self.param(request, "metric")
        data = {}
        for level, metrics in CATALOG.items():
            for metric in metrics:
                full = metric.full_name(level)
                if wanted and full != wanted:
                    continue
                data[full] = [
                    {
                        "type": "gauge",
                        "help": f"{metric.display} ({UNITS[metric.unit]}), {level} level",
                        "unit": "",
                    }
                ]
        return success(data)


class BuildInfoView(PrometheusView):
    """What Grafana asks first to know the flavour and features of the server."""

    authz_doc = "authenticated"

    @extend_schema(responses=RESPONSES)
    def get(self, request):
        return success(
            {
                "version": "2.42.0",
                "revision": "tke-portal",
                "branch": "",
                "buildUser": "tke-portal",
                "buildDate": "",
                "goVersion": "",
            }
        )
