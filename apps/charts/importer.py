"""Importing a third-party Helm repository into a chart group, and resyncing it.

The group's ``import_url`` is the repository's base URL: ``<url>/index.yaml`` is read, and every
version it lists that the group lacks is downloaded (its ``urls[0]``, relative ones resolved
against the index URL), checked against the digest the index gives, validated like an upload
(:mod:`apps.charts.archive`) and stored with its ``source_url``. A version that fails is
reported and skipped; the others are imported.

Outbound requests follow the portal's client address policy (:mod:`apps.clusters.addresses`,
through :func:`apps.accounts.identity.network.request`): HTTP(S) only, metadata, link-local and
reserved addresses refused, loopback only while ``PORTAL_ALLOW_LOOPBACK_CLUSTERS`` is on, the
address checked is the one connected to, redirects are not followed, every answer is size
capped and finished within ``CHART_IMPORT_TIMEOUT``. The repository's credentials are sent
only to the index's own origin (scheme, host and port): an index that lists archives elsewhere
does not get them.
"""

from __future__ import annotations

import logging
from urllib.parse import urljoin, urlsplit

import requests
from django.conf import settings
from django.core.exceptions import ValidationError

from apps.accounts.identity.network import AddressRefused, request
from apps.core import safeyaml

from .archive import SEMVER, ArchiveError, digest_of, read_archive
from .models import ChartGroup, ChartVersion

logger = logging.getLogger("tkeportal.charts")


class ImportFailed(Exception):
    """The repository itself could not be read (the message says why)."""


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port


def _get(url: str, group: ChartGroup, max_bytes: int) -> bytes:
    if urlsplit(url).scheme.lower() not in ("http", "https"):
        raise ImportFailed(f"{url}: only http:// and https:// URLs are fetched")
    auth = None
    if group.import_username and _origin(url) == _origin(group.import_url):
        auth = (group.import_username, group.import_password)
    try:
        response = request(
            "GET", url, timeout=settings.CHART_IMPORT_TIMEOUT, max_bytes=max_bytes, auth=auth
        )
    except AddressRefused as exc:
        raise ImportFailed(f"{url}: {exc}") from None
    except requests.RequestException as exc:
        raise ImportFailed(f"{url}: {exc}") from None
    except OSError as exc:  # the name does not resolve
        raise ImportFailed(f"{url}: {exc}") from None
    if response.status_code != 200:
        raise ImportFailed(f"{url}: HTTP {response.status_code}")
    return response.content


def index_url(group: ChartGroup) -> str:
    return group.import_url.rstrip("/") + "/index.yaml"


def read_index(group: ChartGroup) -> dict:
    url = index_url(group)
    body = _get(url, group, settings.CHART_IMPORT_MAX_INDEX_BYTES)
    try:  # untrusted YAML: no aliases, bounded depth and size (apps.core.safeyaml)
        index = safeyaml.load(body if isinstance(body, str) else body.decode("utf-8"),
                              field="index.yaml")  # fmt: skip
    except UnicodeDecodeError:
        raise ImportFailed(f"{url}: not a Helm repository index (not UTF-8 text)") from None
    except safeyaml.YAMLInputError as exc:
        raise ImportFailed(f"{url}: not a Helm repository index ({exc.reason})") from None
    if not isinstance(index, dict) or not isinstance(index.get("entries"), dict):
        raise ImportFailed(f"{url}: not a Helm repository index (no entries)")
    return index


def sync(group: ChartGroup) -> dict:
    """Import the versions the group lacks; the report says what was added, what was there
    already and what failed (and why). Recorded on the group (``sync_message``)."""
    from . import services

    report: dict = {"added": [], "present": [], "failed": []}
    if not group.import_url:
        report["error"] = "the group imports nothing (no import_url)"
        return report
    try:
        index = read_index(group)
    except ImportFailed as exc:
        report["error"] = str(exc)
        services.record_sync(group, f"resync failed: {exc}")
        return report
    url = index_url(group)
    present = set(
        ChartVersion.objects.filter(chart__group=group).values_list("chart__name", "version")
    )
    for name, entries in sorted(index["entries"].items()):
        if not isinstance(entries, list):
            report["failed"].append({"chart": str(name), "error": "entries are not a list"})
            continue
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            version = str(entry.get("version", ""))
            label = f"{name}-{version}"
            if (name, version) in present:
                report["present"].append(label)
                continue
            try:
                _import_one(group, url, str(name), version, entry)
            except ImportFailed as exc:
                report["failed"].append({"chart": label, "error": str(exc)})
            except ValidationError as exc:
                messages = [m for ms in exc.message_dict.values() for m in ms]
                report["failed"].append({"chart": label, "error": "; ".join(messages)})
            else:
                report["added"].append(label)
                present.add((name, version))
    message = (
        f"added {len(report['added'])}, already present {len(report['present'])}, "
        f"failed {len(report['failed'])}"
    )
    if report["failed"]:
        message += ": " + "; ".join(f"{f['chart']}: {f['error']}" for f in report["failed"])
    services.record_sync(group, message)
    report["message"] = message
    return report


def _import_one(group: ChartGroup, index: str, name: str, version: str, entry: dict) -> None:
    from . import services

    if not SEMVER.match(version):
        raise ImportFailed(f"version {version!r} is not a SemVer 2 version")
    urls = entry.get("urls")
    if not isinstance(urls, list) or not urls or not isinstance(urls[0], str):
        raise ImportFailed("the index entry lists no archive URL")
    archive_url = urljoin(index, urls[0])
    data = _get(archive_url, group, settings.CHART_MAX_ARCHIVE_BYTES)
    expected = str(entry.get("digest", "")).removeprefix("sha256:")
    actual = digest_of(data)
    if not expected:
        raise ImportFailed("the index entry gives no digest")
    if actual != expected:
        raise ImportFailed(
            f"digest mismatch: the index says sha256:{expected}, {archive_url} is sha256:{actual}"
        )
    try:
        info = read_archive(data)
    except ArchiveError as exc:
        raise ImportFailed(str(exc)) from None
    if (info.name, info.version) != (name, version):
        raise ImportFailed(f"the archive is {info.name}-{info.version}, not what the index lists")
    services.upload_chart(actor=None, group=group, archive=data, source_url=archive_url[:1024])
