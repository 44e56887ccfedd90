"""Reading an uploaded chart archive strictly, before anything of it is stored.

A chart archive is a gzipped tar of one directory named like the chart, holding ``Chart.yaml``
(required), ``values.yaml`` (optional) and the templates. The portal never unpacks it to disk;
it reads the tar stream once, member by member, and refuses:

- archives over ``CHART_MAX_ARCHIVE_BYTES``, or unpacking to more than
  ``CHART_MAX_UNPACKED_BYTES`` or ``CHART_MAX_ARCHIVE_MEMBERS`` members (a gzip bomb is
  refused on the sizes the tar headers declare, before their data is inflated);
- anything but regular files and directories (symlinks, hard links, devices, FIFOs);
- absolute names, ``..`` or ``.`` components, backslashes, members outside one top directory,
  duplicate members;
- a missing or invalid ``Chart.yaml`` (apiVersion v1|v2, a valid name equal to the directory,
  a SemVer 2 version) and a ``values.yaml`` that is not a mapping.

Errors say what is wrong: "archive: member ../../etc/passwd escapes the chart directory",
"Chart.yaml: version '1.x' is not a SemVer 2 version".

Provenance files (``.prov``) are Helm's: a PGP clear-signed message whose body is the chart's
metadata, ``...`` and a ``files:`` map naming the archive and its ``sha256:`` digest. Without
the signer's public key the portal cannot verify the signature; it checks the form and that the
signed body names this archive's digest (so a ``.prov`` of another archive is refused).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import re
import tarfile
import zlib
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError

from apps.core import safeyaml

from .models import chart_name_validator

# SemVer 2.0.0's own regular expression (semver.org), without a leading "v".
SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
# Chart.yaml and values.yaml are read into memory: each at most this.
MAX_YAML_BYTES = 1024 * 1024
MAX_PROVENANCE_BYTES = 64 * 1024
_NUMERIC = re.compile(r"^\d+$")


class ArchiveError(ValueError):
    """What is wrong with an archive or a provenance file (the message says it)."""


@dataclass
class ChartInfo:
    """What an archive says of its chart."""

    name: str
    version: str
    api_version: str
    app_version: str
    description: str
    icon: str
    metadata: dict
    values: str
    digest: str
    size: int
    files: list[str] = field(default_factory=list)


def semver_key(version: str):
    """A sort key ordering SemVer 2 versions by precedence (a pre-release before its release;
    build metadata ignored); versions that are not SemVer sort first."""
    match = SEMVER.match(version)
    if match is None:
        return (0, (), 0, ())
    major, minor, patch, pre, _build = match.groups()
    if pre is None:
        pre_key: tuple = ()
        released = 1
    else:
        released = 0
        pre_key = tuple(
            (0, int(part), "") if _NUMERIC.match(part) else (1, 0, part) for part in pre.split(".")
        )
    return (1, (int(major), int(minor), int(patch)), released, pre_key)


def digest_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _check_name(raw: str) -> list[str]:
    """The path components of a member name, or ArchiveError."""
    if "\\" in raw:
        raise ArchiveError(f"archive: member {raw!r} has a backslash in its name")
    if raw.startswith("/"):
        raise ArchiveError(f"archive: member {raw} has an absolute path")
    parts = raw.rstrip("/").split("/")
    if ".." in parts:
        raise ArchiveError(f"archive: member {raw} escapes the chart directory")
    if any(part in ("", ".") for part in parts):
        raise ArchiveError(f"archive: member {raw!r} has an empty or '.' path component")
    if "\x00" in raw:
        raise ArchiveError("archive: a member name holds a NUL character")
    return parts


def _kind(member: tarfile.TarInfo) -> str:
    if member.issym():
        return "a symbolic link"
    if member.islnk():
        return "a hard link"
    if member.ischr() or member.isblk():
        return "a device"
    if member.isfifo():
        return "a FIFO"
    return "not a regular file or directory"


def _yaml(text: str, where: str):
    """One YAML document of the archive, through the portal's loader for untrusted YAML
    (apps.core.safeyaml: no aliases, bounded depth and size — a billion-laughs Chart.yaml
    would otherwise be stored as gigabytes of JSON, and deep nesting crash the parser)."""
    try:
        return safeyaml.load(text, field=where)
    except safeyaml.YAMLInputError as exc:
        reason = exc.reason.splitlines()[0]
        if reason[1:2].islower():  # "Not valid YAML" → "not valid YAML"; "YAML aliases" stays
            reason = reason[:1].lower() + reason[1:]
        raise ArchiveError(f"{where}: {reason}") from None


def _parse_chart_yaml(text: bytes) -> dict:
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ArchiveError("Chart.yaml: not UTF-8 text") from exc
    data = _yaml(decoded, "Chart.yaml")
    if not isinstance(data, dict):
        raise ArchiveError("Chart.yaml: must be a mapping of fields")
    return data


def _text_field(metadata: dict, name: str) -> str:
    value = metadata.get(name)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ArchiveError(f"Chart.yaml: {name} must be a string")
    return str(value)


def validate_chart_metadata(metadata: dict, directory: str) -> tuple[str, str, str]:
    """(name, version, apiVersion) of a parsed Chart.yaml, or ArchiveError naming the field."""
    api_version = metadata.get("apiVersion")
    if api_version not in ("v1", "v2"):
        raise ArchiveError(f"Chart.yaml: apiVersion must be v1 or v2, not {api_version!r}")
    name = metadata.get("name")
    if not isinstance(name, str) or not name:
        raise ArchiveError("Chart.yaml: name is required")
    try:
        chart_name_validator(name)
    except ValidationError as exc:
        raise ArchiveError(f"Chart.yaml: name {name!r} is invalid: {exc.messages[0]}") from exc
    if len(name) > 63:
        raise ArchiveError(f"Chart.yaml: name {name!r} is longer than 63 characters")
    if name != directory:
        raise ArchiveError(
            f"Chart.yaml: name {name!r} differs from the archive's directory {directory!r}"
        )
    version = metadata.get("version")
    if not isinstance(version, str) or not version:
        # YAML reads 1.0 as a number: Helm needs a string too.
        raise ArchiveError(f"Chart.yaml: version is required, as a string (got {version!r})")
    if len(version) > 64 or not SEMVER.match(version):
        raise ArchiveError(f"Chart.yaml: version {version!r} is not a SemVer 2 version")
    for text in ("appVersion", "description", "icon", "kubeVersion", "type"):
        _text_field(metadata, text)
    return name, version, api_version


def _parse_values(text: bytes) -> str:
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ArchiveError("values.yaml: not UTF-8 text") from exc
    data = _yaml(decoded, "values.yaml")
    if data is not None and not isinstance(data, dict):
        raise ArchiveError("values.yaml: must be a mapping of values")
    return decoded


def read_archive(data: bytes) -> ChartInfo:
    """Validate ``data`` as a chart archive (module docstring) and say what it holds."""
    limit = settings.CHART_MAX_ARCHIVE_BYTES
    if len(data) > limit:
        raise ArchiveError(f"archive: {len(data)} bytes, more than the {limit} bytes allowed")
    if not data:
        raise ArchiveError("archive: empty")
    if data[:2] != b"\x1f\x8b":
        raise ArchiveError("archive: not a gzip-compressed tar file (.tgz)")
    max_unpacked = settings.CHART_MAX_UNPACKED_BYTES
    max_members = settings.CHART_MAX_ARCHIVE_MEMBERS
    top: str | None = None
    seen: set[str] = set()
    unpacked = 0
    chart_yaml: bytes | None = None
    values_yaml: bytes | None = None
    try:
        # gzip.GzipFile, not tarfile's "r|gz": Python 3.11's stream reader mis-reads the gzip
        # header's extra field, which Helm writes. Inflated lazily, as the tar is read.
        inflated = gzip.GzipFile(fileobj=io.BytesIO(data), mode="rb")
        with inflated, tarfile.open(fileobj=inflated, mode="r|") as tar:
            for member in tar:
                if len(seen) >= max_members:
                    raise ArchiveError(f"archive: more than {max_members} members")
                parts = _check_name(member.name)
                if not (member.isreg() or member.isdir()):
                    raise ArchiveError(f"archive: member {member.name} is {_kind(member)}")
                if top is None:
                    top = parts[0]
                elif parts[0] != top:
                    raise ArchiveError(
                        f"archive: member {member.name} is outside the chart directory {top}/"
                    )
                key = "/".join(parts)
                if key in seen:
                    raise ArchiveError(f"archive: member {member.name} appears twice")
                seen.add(key)
                unpacked += member.size
                if unpacked > max_unpacked:
                    raise ArchiveError(
                        f"archive: unpacks to more than the {max_unpacked} bytes allowed"
                    )
                if member.isdir():
                    continue
                if len(parts) == 1:
                    raise ArchiveError(
                        f"archive: member {member.name} is a file outside any chart directory"
                    )
                if len(parts) == 2 and parts[1] in ("Chart.yaml", "values.yaml"):
                    if member.size > MAX_YAML_BYTES:
                        raise ArchiveError(
                            f"{parts[1]}: larger than the {MAX_YAML_BYTES} bytes allowed"
                        )
                    handle = tar.extractfile(member)
                    content = handle.read() if handle is not None else b""
                    if parts[1] == "Chart.yaml":
                        chart_yaml = content
                    else:
                        values_yaml = content
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile, OSError) as exc:
        raise ArchiveError(f"archive: not a readable .tgz ({exc})") from exc
    if top is None:
        raise ArchiveError("archive: holds no files")
    if chart_yaml is None:
        raise ArchiveError(f"archive: {top}/Chart.yaml is missing")
    metadata = _parse_chart_yaml(chart_yaml)
    name, version, api_version = validate_chart_metadata(metadata, top)
    values = _parse_values(values_yaml) if values_yaml is not None else ""
    return ChartInfo(
        name=name,
        version=version,
        api_version=api_version,
        app_version=_text_field(metadata, "appVersion")[:128],
        description=_text_field(metadata, "description"),
        icon=_text_field(metadata, "icon")[:1024],
        metadata=metadata,
        values=values,
        digest=digest_of(data),
        size=len(data),
        files=sorted(seen),
    )


# -- provenance --------------------------------------------------------------------------------
_SIGNED_HEADER = "-----BEGIN PGP SIGNED MESSAGE-----"
_SIGNATURE_BEGIN = "-----BEGIN PGP SIGNATURE-----"
_SIGNATURE_END = "-----END PGP SIGNATURE-----"


@dataclass
class Provenance:
    """What a ``.prov`` file's signed body says."""

    name: str
    version: str
    files: dict[str, str]


def read_provenance(data: bytes) -> Provenance:
    """Parse a Helm provenance file (its form; the signature itself is not verified)."""
    if len(data) > MAX_PROVENANCE_BYTES:
        raise ArchiveError(f"prov: larger than the {MAX_PROVENANCE_BYTES} bytes allowed")
    try:
        text = data.decode("utf-8").replace("\r\n", "\n")
    except UnicodeDecodeError as exc:
        raise ArchiveError("prov: not UTF-8 text") from exc
    if not text.startswith(_SIGNED_HEADER + "\n"):
        raise ArchiveError(f"prov: not a PGP signed message (must start with {_SIGNED_HEADER})")
    begin = text.find("\n" + _SIGNATURE_BEGIN + "\n")
    end = text.find(_SIGNATURE_END, begin + 1)
    if begin < 0 or end < 0:
        raise ArchiveError("prov: the PGP signature block is missing")
    head, sep, body = text[len(_SIGNED_HEADER) + 1 : begin + 1].partition("\n\n")
    if not sep or not all(line.startswith("Hash:") for line in head.splitlines() if line):
        raise ArchiveError("prov: the signed message's Hash header is missing")
    # Dash-escaped lines (RFC 4880 §7.1) carry "- " before a leading dash.
    body = "\n".join(line[2:] if line.startswith("- ") else line for line in body.split("\n"))
    chart_part, sep, files_part = body.partition("\n...\n")
    if not sep:
        raise ArchiveError("prov: the signed body has no '...' between metadata and files")
    chart = _yaml(chart_part, "prov")
    files = _yaml(files_part, "prov")
    if not isinstance(chart, dict) or not isinstance(chart.get("name"), str):
        raise ArchiveError("prov: the signed body names no chart")
    if not isinstance(chart.get("version"), str):
        raise ArchiveError("prov: the signed body names no chart version")
    if not isinstance(files, dict) or not isinstance(files.get("files"), dict):
        raise ArchiveError("prov: the signed body has no files map")
    return Provenance(
        name=chart["name"],
        version=chart["version"],
        files={str(k): str(v) for k, v in files["files"].items()},
    )


def check_provenance(data: bytes, info_name: str, version: str, digest: str) -> Provenance:
    """``data`` as the provenance of the archive ``<name>-<version>.tgz`` with ``digest``."""
    prov = read_provenance(data)
    if (prov.name, prov.version) != (info_name, version):
        raise ArchiveError(f"prov: signs {prov.name} {prov.version}, not {info_name} {version}")
    filename = f"{info_name}-{version}.tgz"
    signed = prov.files.get(filename)
    if signed is None:
        raise ArchiveError(f"prov: names no digest for {filename}")
    if signed != f"sha256:{digest}":
        raise ArchiveError(
            f"prov: the digest it signs for {filename} ({signed}) is not the archive's "
            f"(sha256:{digest})"
        )
    return prov
