"""Reading chart archives strictly (apps.charts.archive): what a Helm-packaged chart yields,
and every malformed or hostile archive refused with a message naming what is wrong."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile

import helm_python
import pytest
import yaml

from apps.charts.archive import (
    ArchiveError,
    check_provenance,
    read_archive,
    read_provenance,
    semver_key,
)
from tests.charts.helpers import chart_yaml, package_chart, provenance, tgz

VALUES = b"greeting: hi\n"


def refused(data: bytes) -> str:
    with pytest.raises(ArchiveError) as info:
        read_archive(data)
    return str(info.value)


def test_a_helm_packaged_chart_is_read(tmp_path):
    path = package_chart(tmp_path, "web-app", "1.2.3-rc.1", app_version="2.0", values={"a": 1})
    data = path.read_bytes()
    info = read_archive(data)
    assert (info.name, info.version, info.api_version) == ("web-app", "1.2.3-rc.1", "v2")
    assert info.app_version == "2.0" and info.description == "A demo chart"
    assert yaml.safe_load(info.values) == {"a": 1}
    # the digest is the one Helm computes for its index
    assert f"sha256:{info.digest}" == helm_python.digest(path)
    assert info.size == len(data)
    assert "web-app/templates/configmap.yaml" in info.files


@pytest.mark.parametrize(
    "members, message",
    [
        (
            [("demo/Chart.yaml", chart_yaml()), ("demo/../../etc/passwd", b"x")],
            "member demo/../../etc/passwd escapes the chart directory",
        ),
        (
            [("../../etc/passwd", b"x")],
            "member ../../etc/passwd escapes the chart directory",
        ),
        ([("/etc/passwd", b"x")], "member /etc/passwd has an absolute path"),
        ([("demo\\Chart.yaml", chart_yaml())], "has a backslash in its name"),
        (
            [("demo/Chart.yaml", chart_yaml()), ("demo/link", "symlink", "/etc/passwd")],
            "member demo/link is a symbolic link",
        ),
        (
            [("demo/Chart.yaml", chart_yaml()), ("demo/hard", "hardlink", "demo/Chart.yaml")],
            "member demo/hard is a hard link",
        ),
        (
            [("demo/Chart.yaml", chart_yaml()), ("demo/dev", "device")],
            "member demo/dev is a device",
        ),
        (
            [("demo/Chart.yaml", chart_yaml()), ("other/x.yaml", b"x")],
            "member other/x.yaml is outside the chart directory demo/",
        ),
        (
            [("demo/Chart.yaml", chart_yaml()), ("demo/Chart.yaml", chart_yaml())],
            "member demo/Chart.yaml appears twice",
        ),
        ([("demo/values.yaml", VALUES)], "demo/Chart.yaml is missing"),
        ([("Chart.yaml", chart_yaml())], "is a file outside any chart directory"),
        ([("demo/./Chart.yaml", chart_yaml())], "empty or '.' path component"),
    ],
)
def test_hostile_archives_are_refused_naming_the_member(members, message):
    assert message in refused(tgz(members))


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"apiVersion": "v3"}, "Chart.yaml: apiVersion must be v1 or v2, not 'v3'"),
        ({"apiVersion": None}, "Chart.yaml: apiVersion must be v1 or v2, not None"),
        ({"name": "Demo_App"}, "Chart.yaml: name 'Demo_App' is invalid"),
        ({"name": "other"}, "Chart.yaml: name 'other' differs from the archive's directory"),
        ({"version": "1.x"}, "Chart.yaml: version '1.x' is not a SemVer 2 version"),
        ({"version": "v1.0.0"}, "Chart.yaml: version 'v1.0.0' is not a SemVer 2 version"),
        ({"version": 1.0}, "Chart.yaml: version is required, as a string"),
        ({"version": None}, "Chart.yaml: version is required"),
        ({"appVersion": ["a"]}, "Chart.yaml: appVersion must be a string"),
    ],
)
def test_bad_chart_yaml_is_refused_naming_the_field(fields, message):
    data = tgz([("demo/Chart.yaml", chart_yaml(**fields)), ("demo/values.yaml", VALUES)])
    assert message in refused(data)


def test_chart_yaml_and_values_yaml_must_parse():
    assert "Chart.yaml: not valid YAML" in refused(tgz([("demo/Chart.yaml", b"a: [\n")]))
    assert "Chart.yaml: must be a mapping" in refused(tgz([("demo/Chart.yaml", b"- a\n")]))
    assert "values.yaml: must be a mapping" in refused(
        tgz([("demo/Chart.yaml", chart_yaml()), ("demo/values.yaml", b"- 1\n- 2\n")])
    )
    assert "values.yaml: not valid YAML" in refused(
        tgz([("demo/Chart.yaml", chart_yaml()), ("demo/values.yaml", b"a: {\n")])
    )
    # no values.yaml at all is fine; an empty one too
    assert read_archive(tgz([("demo/Chart.yaml", chart_yaml())])).values == ""
    assert read_archive(tgz([("demo/Chart.yaml", chart_yaml()), ("demo/values.yaml", b"")]))


LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8)
)


@pytest.mark.parametrize("member", ["Chart.yaml", "values.yaml"])
def test_yaml_bombs_are_refused_before_anything_is_built(member):
    """Nine nested aliases would make a Chart.yaml stored as gigabytes of JSON (it took a
    minute and 2.3 GB before the archive reader used the portal's untrusted-YAML loader);
    50,000 nested brackets crashed the parser with a RecursionError (a 500)."""
    chart = chart_yaml().decode()

    def archive(text: str) -> bytes:
        if member == "Chart.yaml":
            return tgz([("demo/Chart.yaml", (chart + text).encode())])
        return tgz([("demo/Chart.yaml", chart.encode()), ("demo/values.yaml", text.encode())])

    assert f"{member}: YAML aliases (*a) are not accepted" in refused(archive(LAUGHS))
    assert f"{member}: nested deeper than" in refused(archive("x: " + "[" * 50_000 + "]" * 50_000))


def test_not_a_tgz():
    assert "not a gzip-compressed tar file" in refused(b"PK\x03\x04 a zip")
    assert "not a readable .tgz" in refused(gzip.compress(b"not a tar at all" * 100))
    assert "empty" in refused(b"")
    # a plain tar, not gzipped
    assert "not a gzip-compressed" in refused(tgz([("demo/Chart.yaml", chart_yaml())], False))


def test_size_caps(settings, tmp_path):
    data = package_chart(tmp_path).read_bytes()
    settings.CHART_MAX_ARCHIVE_BYTES = len(data) - 1
    assert f"{len(data)} bytes, more than the {len(data) - 1} bytes allowed" in refused(data)


def test_a_gzip_bomb_is_refused_before_inflating(settings):
    """40 MB of zeros compress to ~40 KB; the header's declared size refuses it."""
    settings.CHART_MAX_UNPACKED_BYTES = 10 * 1024 * 1024
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=9) as tar:
        tar.addfile(_info("demo/Chart.yaml", len(chart_yaml())), io.BytesIO(chart_yaml()))
        big = 40 * 1024 * 1024
        tar.addfile(_info("demo/zeros", big), _Zeros(big))
    data = buffer.getvalue()
    assert len(data) < 1024 * 1024
    assert "unpacks to more than the 10485760 bytes allowed" in refused(data)


def test_too_many_members(settings):
    settings.CHART_MAX_ARCHIVE_MEMBERS = 10
    members = [("demo/Chart.yaml", chart_yaml())] + [(f"demo/f{i}", b"x") for i in range(20)]
    assert "more than 10 members" in refused(tgz(members))


class _Zeros(io.RawIOBase):
    def __init__(self, size):
        self.left = size

    def readable(self):
        return True

    def readinto(self, buffer):
        n = min(len(buffer), self.left)
        buffer[:n] = b"\0" * n
        self.left -= n
        return n


def _info(name, size):
    info = tarfile.TarInfo(name)
    info.size = size
    return info


def test_semver_precedence():
    versions = ["1.0.0", "1.0.0-rc.1", "1.0.0-alpha", "0.9.10", "0.9.9", "1.0.0-alpha.1", "2.0.0"]
    ordered = sorted(versions, key=semver_key)
    assert ordered == [
        "0.9.9",
        "0.9.10",
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-rc.1",
        "1.0.0",
        "2.0.0",
    ]


def test_provenance_must_sign_this_archive(tmp_path, keyring):
    path = package_chart(tmp_path, "demo", "0.1.0")
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    # a real one, signed by the Helm SDK with a gpg key
    signed = __import__("pathlib").Path(
        helm_python.sign(path, key=keyring.key, keyring=keyring.secret)
    )
    prov = check_provenance(signed.read_bytes(), "demo", "0.1.0", digest)
    assert prov.files == {"demo-0.1.0.tgz": f"sha256:{digest}"}
    # another archive's provenance
    with pytest.raises(ArchiveError, match="is not the archive's"):
        check_provenance(provenance("demo", "0.1.0", b"other bytes"), "demo", "0.1.0", digest)
    with pytest.raises(ArchiveError, match="signs demo 0.2.0, not demo 0.1.0"):
        check_provenance(provenance("demo", "0.2.0", data), "demo", "0.1.0", digest)
    with pytest.raises(ArchiveError, match="not a PGP signed message"):
        read_provenance(b"files:\n  demo-0.1.0.tgz: sha256:" + digest.encode())
    unsigned = provenance("demo", "0.1.0", data).split(b"-----BEGIN PGP SIGNATURE-----")[0]
    with pytest.raises(ArchiveError, match="signature block is missing"):
        read_provenance(unsigned)
