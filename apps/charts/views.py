"""The ChartMuseum-compatible chart repository under ``/chart/``.

Helm's repository protocol::

    GET    /chart/<tenant>/<group>/index.yaml
    GET    /chart/<tenant>/<group>/charts/<name>-<version>.tgz        (and .tgz.prov)

ChartMuseum's API (what ``helm cm-push`` and ``curl --data-binary`` use)::

    POST   /chart/api/<tenant>/<group>/charts          multipart chart (+ prov), or a raw .tgz
    POST   /chart/api/<tenant>/<group>/prov            multipart prov, or a raw .prov
    GET    /chart/api/<tenant>/<group>/charts          {name: [version, …]}
    GET    /chart/api/<tenant>/<group>/charts/<name>   [version, …]
    GET    /chart/api/<tenant>/<group>/charts/<name>/<version>
    DELETE /chart/api/<tenant>/<group>/charts/<name>/<version>

Credentials are HTTP Basic ``<tenant>/<username>:<API key>`` (apps.accounts.basic); without
them a request is anonymous, who reads public groups only; the console's session is accepted
for reads. Who may do what: apps.charts.access. An unknown tenant or group, and a group the
user may not read, are 404 (401 with ``WWW-Authenticate: Basic`` to the anonymous, so that Helm
sends credentials, and so that a name's existence is not told either way). Errors are
ChartMuseum's ``{"error": "…"}``. Uploads and deletes are audited by the audit middleware
(named here), downloads by :func:`_audit_pull`; a download counts a pull of the chart.
"""

from __future__ import annotations

from datetime import UTC, datetime

import yaml
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from apps.accounts.basic import BasicRefused, authenticate_basic
from apps.audit.services import record_event

from . import access, services
from .archive import SEMVER, ArchiveError, read_archive, read_provenance, semver_key
from .models import ChartArchive, ChartGroup, ChartVersion, chart_name_validator

REALM = 'Basic realm="tke-portal charts"'
READ_METHODS = ("GET", "HEAD")


def error(status: int, message: str, **headers) -> JsonResponse:
    response = JsonResponse({"error": message}, status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


class _Answer(Exception):
    def __init__(self, response):
        self.response = response


def _unauthorized(message: str = "authentication required") -> _Answer:
    return _Answer(error(401, message, WWW_Authenticate=REALM))


def _user(request):
    """The acting user (None: anonymous), or _Answer(401) for refused credentials."""
    try:
        user = authenticate_basic(request, "chart repositories")
    except BasicRefused as refused:
        record_event(
            action="authenticateChartRepository",
            resource=request.path[:512],
            status_code=401,
            message=refused.message,
            username=refused.login[:150],
            method=request.method,
            path=request.get_full_path()[:1024],
            source_ip=getattr(request, "client_ip", None),
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:512],
            request_id=getattr(request, "request_id", ""),
        )
        raise _unauthorized(refused.message) from None
    if user is None and request.method in READ_METHODS:
        session_user = getattr(request, "user", None)
        if session_user is not None and session_user.is_authenticated:
            return session_user
    if user is not None:
        request.audit_user = user
    return user


def _group(request, user, tenant: str, name: str, chart: str = "*") -> ChartGroup:
    """The group ``user`` may read, or _Answer(404, or 401 to the anonymous)."""
    group = (
        ChartGroup.objects.select_related("tenant", "project")
        .filter(tenant__slug=tenant, tenant__is_active=True, name=name)
        .first()
    )
    if group is not None and access.can_read(user, group, chart):
        request.audit_tenant = group.tenant
        return group
    if user is None:
        raise _unauthorized()
    raise _Answer(error(404, f"chart group {tenant}/{name} not found"))


def _handle(view):
    def wrapped(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except _Answer as answer:
            return answer.response

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return csrf_exempt(wrapped)


# -- Helm's repository protocol ------------------------------------------------------------------
def _timestamp(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _versions(group: ChartGroup, **filters):
    return (
        ChartVersion.objects.filter(chart__group=group, **filters)
        .select_related("chart")
        .defer("values")
    )


def _entry(version: ChartVersion) -> dict:
    """The index entry of a version: its Chart.yaml, with where and when it is."""
    entry = dict(version.metadata) if isinstance(version.metadata, dict) else {}
    entry.update(
        {
            "apiVersion": version.api_version,
            "name": version.chart.name,
            "version": version.version,
            "urls": [f"charts/{version.filename}"],
            "created": _timestamp(version.created_at),
            "digest": version.digest,
        }
    )
    if version.app_version:
        entry["appVersion"] = version.app_version
    if version.description:
        entry["description"] = version.description
    return entry


def _entries(group: ChartGroup, **filters) -> dict[str, list[dict]]:
    entries: dict[str, list[ChartVersion]] = {}
    for version in _versions(group, **filters):
        entries.setdefault(version.chart.name, []).append(version)
    return {
        name: [_entry(v) for v in sorted(vs, key=lambda v: semver_key(v.version), reverse=True)]
        for name, vs in sorted(entries.items())
    }


@_handle
def index_view(request, tenant: str, group: str):
    if request.method not in READ_METHODS:
        return error(405, "use GET")
    user = _user(request)
    found = _group(request, user, tenant, group)
    index = {
        "apiVersion": "v1",
        "entries": _entries(found),
        "generated": _timestamp(timezone.now()),
    }
    body = yaml.safe_dump(index, sort_keys=False, allow_unicode=True)
    return HttpResponse(body, content_type="application/x-yaml")


def _split_filename(stem: str) -> list[tuple[str, str]]:
    """Every (chart, version) a ``<name>-<version>`` stem may mean (names and versions both
    hold dashes)."""
    out = []
    for i, char in enumerate(stem):
        if char != "-":
            continue
        name, version = stem[:i], stem[i + 1 :]
        if SEMVER.match(version):
            try:
                chart_name_validator(name)
            except ValidationError:
                continue
            out.append((name, version))
    return out


def _audit_pull(request, user, version: ChartVersion, what: str) -> None:
    record_event(
        action="pullChart",
        user=user,
        tenant=version.chart.group.tenant,
        resource=access.chart_resource(version.chart.group, version.chart.name, version.version),
        status_code=200,
        message=f"downloaded {what}",
        api_key_id=getattr(getattr(request, "auth", None), "pk", None),
        method=request.method,
        path=request.get_full_path()[:1024],
        source_ip=getattr(request, "client_ip", None),
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:512],
        request_id=getattr(request, "request_id", ""),
    )


@_handle
def download_view(request, tenant: str, group: str, filename: str):
    if request.method not in READ_METHODS:
        return error(405, "use GET")
    user = _user(request)
    provenance = filename.endswith(".tgz.prov")
    stem = filename.removesuffix(".prov").removesuffix(".tgz")
    found = _group(request, user, tenant, group)
    if not filename.endswith((".tgz", ".tgz.prov")):
        return error(404, f"{filename} not found")
    candidates = _split_filename(stem)
    condition = Q(pk__in=[])
    for name, version in candidates:
        condition |= Q(chart__name=name, version=version)
    version = _versions(found).filter(condition).first()
    if version is None or not access.can_read(user, found, version.chart.name):
        return error(404, f"{filename} not found")
    archive = ChartArchive.objects.filter(version=version).first()
    data = archive and (archive.provenance if provenance else archive.data)
    if data is None:
        return error(404, f"{filename} not found")
    if request.method == "GET":
        services.count_pull(version)
        _audit_pull(request, user, version, filename)
    content_type = "application/pgp-signature" if provenance else "application/gzip"
    response = HttpResponse(bytes(data), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# -- ChartMuseum's API ---------------------------------------------------------------------------
@_handle
def api_charts_view(request, tenant: str, group: str):
    if request.method == "POST":
        return _upload(request, tenant, group)
    if request.method not in READ_METHODS:
        return error(405, "use GET or POST")
    user = _user(request)
    found = _group(request, user, tenant, group)
    return JsonResponse(_entries(found))


@_handle
def api_chart_view(request, tenant: str, group: str, name: str):
    if request.method not in READ_METHODS:
        return error(405, "use GET")
    user = _user(request)
    found = _group(request, user, tenant, group, name)
    entries = _entries(found, chart__name=name).get(name)
    if not entries:
        return error(404, f"chart {name} not found")
    return JsonResponse(entries, safe=False)


@_handle
def api_version_view(request, tenant: str, group: str, name: str, version: str):
    if request.method == "DELETE":
        return _delete(request, tenant, group, name, version)
    if request.method not in READ_METHODS:
        return error(405, "use GET or DELETE")
    user = _user(request)
    found = _group(request, user, tenant, group, name)
    row = _versions(found, chart__name=name, version=version).first()
    if row is None:
        return error(404, f"chart {name} version {version} not found")
    return JsonResponse(_entry(row))


def _write_user(request, action: str, resource: str):
    request.audit_action = action
    request.audit_resource = resource[:512]
    user = _user(request)
    if user is None:
        raise _unauthorized()
    return user


def _message(exc: ValidationError) -> str:
    return "; ".join(m for ms in exc.message_dict.values() for m in ms)


def _upload_parts(request, field: str) -> tuple[bytes | None, bytes | None]:
    if request.content_type == "multipart/form-data":
        upload = request.FILES.get(field)
        prov = request.FILES.get("prov") if field == "chart" else None
        return (
            upload.read() if upload is not None else None,
            prov.read() if prov is not None else None,
        )
    return request.body, None


def _upload(request, tenant: str, group: str):
    user = _write_user(request, "pushChart", f"chartgroup:{group}/chart:*")
    found = _group(request, user, tenant, group)
    archive, prov = _upload_parts(request, "chart")
    if not archive:
        return error(400, "chart: no chart archive in the request (multipart field 'chart')")
    # Which chart it is comes from inside the archive: authorize on the group first (any
    # chart), then on the chart itself once the archive has been read.
    try:
        info = read_archive(archive)
    except ArchiveError as exc:
        return error(400, f"chart: {exc}")
    request.audit_resource = access.chart_resource(found, info.name, info.version)
    if not access.can_push(user, found, info.name):
        return error(403, f"{user} may not push charts to {tenant}/{group} (pushChart)")
    force = request.GET.get("force", "false").lower() not in ("false", "0", "no")
    try:
        services.upload_chart(
            actor=user, group=found, archive=archive, provenance=prov, force=force
        )
    except services.VersionExists as exc:
        return error(409, _message(exc))
    except ValidationError as exc:
        return error(400, _message(exc))
    return JsonResponse({"saved": True}, status=201)


@_handle
def api_prov_view(request, tenant: str, group: str):
    if request.method != "POST":
        return error(405, "use POST")
    user = _write_user(request, "pushChart", f"chartgroup:{group}/chart:*")
    found = _group(request, user, tenant, group)
    prov, _ = _upload_parts(request, "prov")
    if not prov:
        return error(400, "prov: no provenance file in the request (multipart field 'prov')")
    try:
        parsed = read_provenance(prov)
    except ArchiveError as exc:
        return error(400, str(exc))
    request.audit_resource = access.chart_resource(found, parsed.name, parsed.version)
    if not access.can_push(user, found, parsed.name):
        return error(403, f"{user} may not push charts to {tenant}/{group} (pushChart)")
    try:
        services.attach_provenance(actor=user, group=found, provenance=prov)
    except ValidationError as exc:
        return error(400, _message(exc))
    return JsonResponse({"saved": True}, status=201)


def _delete(request, tenant: str, group: str, name: str, version: str):
    user = _write_user(
        request, "deleteChartVersion", f"chartgroup:{group}/chart:{name}/version:{version}"
    )
    found = _group(request, user, tenant, group, name)
    row = _versions(found, chart__name=name, version=version).first()
    if row is None:
        return error(404, f"chart {name} version {version} not found")
    if not access.can_delete(user, found, name, version):
        return error(403, f"{user} may not delete {name} {version} (deleteChartVersion)")
    services.delete_version(actor=user, version=row)
    return JsonResponse({"deleted": True})
