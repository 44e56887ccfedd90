"""Every write to chart groups, charts and versions (atomic, taking the acting user).

Writes reaching the portal over HTTP (API, admin, the ChartMuseum API under ``/chart/api/``)
are audited by the audit middleware, one row per request, named by the view
(``request.audit_action`` / ``audit_resource``); downloads are audited by the view that
serves them. Validation errors name the field: ``chart`` (the archive) and ``prov`` (its
provenance file) for uploads, with a message saying what is wrong inside it.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from .archive import ArchiveError, check_provenance, read_archive, read_provenance, semver_key
from .choices import ChartVisibility
from .models import Chart, ChartArchive, ChartGroup, ChartVersion

EDITABLE = (
    "display_name",
    "description",
    "visibility",
    "owner",
    "project",
    "import_url",
    "import_username",
    "import_password",
)


class VersionExists(ValidationError):
    """The version is already in the group (ChartMuseum answers 409; ``force`` replaces it)."""


def _actor(actor):
    return actor if getattr(actor, "pk", None) else None


def _validate_group(group: ChartGroup) -> None:
    errors: dict[str, list[str]] = {}
    if group.project_id is not None and group.project.tenant_id != group.tenant_id:
        errors["project"] = ["Unknown project."]
    if group.visibility == ChartVisibility.PROJECT and group.project_id is None:
        errors["project"] = ["A group of visibility project needs its project."]
    if group.owner_id is not None and group.owner.tenant_id != group.tenant_id:
        errors["owner"] = ["Unknown user."]
    if group.import_url and not group.import_url.lower().startswith(("http://", "https://")):
        errors["import_url"] = ["Only http:// and https:// repositories can be imported."]
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def create_group(*, actor, tenant, name: str, **fields) -> ChartGroup:
    if ChartGroup.objects.filter(tenant=tenant, name=name).exists():
        raise ValidationError({"name": [f"A chart group named {name} already exists."]})
    group = ChartGroup(
        tenant=tenant,
        name=name,
        created_by=_actor(actor),
        **{k: v for k, v in fields.items() if k in EDITABLE},
    )
    if group.owner_id is None and group.visibility == ChartVisibility.USER:
        owner = _actor(actor)
        if owner is not None and owner.tenant_id == tenant.pk:
            group.owner = owner
    _validate_group(group)
    group.full_clean()
    group.save()
    return group


@transaction.atomic
def update_group(*, actor, group: ChartGroup, **changes) -> ChartGroup:
    for name, value in changes.items():
        if name == "import_password" and value is None:
            continue  # not given: keep the stored one (it is never echoed back to edit)
        if name in EDITABLE:
            setattr(group, name, value)
    _validate_group(group)
    group.full_clean()
    group.save()
    return group


@transaction.atomic
def delete_group(*, actor, group: ChartGroup) -> None:
    """Delete the group with its charts, versions and archives."""
    group.delete()


def _refresh_chart(chart: Chart) -> None:
    """The chart's latest version (by SemVer precedence) and what that version says."""
    versions = list(chart.versions.values("version", "description", "metadata"))
    if not versions:
        chart.delete()
        return
    latest = max(versions, key=lambda v: semver_key(v["version"]))
    chart.latest_version = latest["version"]
    chart.description = latest["description"]
    icon = latest["metadata"].get("icon") if isinstance(latest["metadata"], dict) else ""
    chart.icon = icon if isinstance(icon, str) and len(icon) <= 1024 else ""
    chart.save(update_fields=["latest_version", "description", "icon", "updated_at"])


def _archive_error(field: str, exc: ArchiveError) -> ValidationError:
    return ValidationError({field: [str(exc)]})


@transaction.atomic
def upload_chart(
    *,
    actor,
    group: ChartGroup,
    archive: bytes,
    provenance: bytes | None = None,
    force: bool = False,
    source_url: str = "",
) -> ChartVersion:
    """Store a chart archive (and its provenance) as a version of ``group``.

    Raises ValidationError naming ``chart`` or ``prov``; :class:`VersionExists` when the
    version is stored already and ``force`` is off."""
    try:
        info = read_archive(archive)
    except ArchiveError as exc:
        raise _archive_error("chart", exc) from None
    if provenance is not None:
        try:
            check_provenance(provenance, info.name, info.version, info.digest)
        except ArchiveError as exc:
            raise _archive_error("prov", exc) from None
    # The group row serializes concurrent uploads to it (the first chart of a name too).
    ChartGroup.objects.select_for_update().filter(pk=group.pk).first()
    chart, _ = Chart.objects.get_or_create(group=group, name=info.name)
    version = ChartVersion.objects.filter(chart=chart, version=info.version).first()
    if version is not None and not force:
        raise VersionExists(
            {"version": [f"{info.name}-{info.version}.tgz already exists in {group.name}"]},
            code="exists",
        )
    if version is None:
        version = ChartVersion(chart=chart, version=info.version)
    version.app_version = info.app_version
    version.description = info.description
    version.api_version = info.api_version
    version.metadata = info.metadata
    version.values = info.values
    version.digest = info.digest
    version.size = info.size
    version.has_provenance = provenance is not None
    version.source_url = source_url
    version.pushed_by = _actor(actor)
    version.save()
    ChartArchive.objects.update_or_create(
        version=version, defaults={"data": archive, "provenance": provenance}
    )
    _refresh_chart(chart)
    return version


@transaction.atomic
def attach_provenance(*, actor, group: ChartGroup, provenance: bytes) -> ChartVersion:
    """Store a ``.prov`` for a version already uploaded (ChartMuseum's ``POST …/prov``): the
    chart and version are the ones its signed body names."""
    try:
        prov = read_provenance(provenance)
    except ArchiveError as exc:
        raise _archive_error("prov", exc) from None
    version = (
        ChartVersion.objects.select_for_update()
        .select_related("chart")
        .filter(chart__group=group, chart__name=prov.name, version=prov.version)
        .first()
    )
    if version is None:
        raise ValidationError(
            {"prov": [f"prov: signs {prov.name} {prov.version}, which is not in {group.name}"]}
        )
    try:
        check_provenance(provenance, prov.name, prov.version, version.digest)
    except ArchiveError as exc:
        raise _archive_error("prov", exc) from None
    ChartArchive.objects.filter(version=version).update(provenance=provenance)
    version.has_provenance = True
    version.save(update_fields=["has_provenance"])
    return version


@transaction.atomic
def delete_version(*, actor, version: ChartVersion) -> None:
    """Delete a version and its archive; the chart goes with its last version."""
    chart = version.chart
    version.delete()
    _refresh_chart(chart)


def count_pull(version: ChartVersion) -> None:
    Chart.objects.filter(pk=version.chart_id).update(pull_count=F("pull_count") + 1)


def record_sync(group: ChartGroup, message: str) -> None:
    ChartGroup.objects.filter(pk=group.pk).update(
        last_synced_at=timezone.now(), sync_message=message[:10000]
    )


def sync_group(group: ChartGroup) -> dict:
    """Import what ``group.import_url`` lists and the group lacks (apps.charts.importer)."""
    from .importer import sync

    return sync(group)
