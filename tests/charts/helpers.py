"""Chart archives for the chart tests: real ones packaged by the Helm SDK (helm_python, the
Helm v4 engine), and hand-made tar files for what Helm would never produce."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import helm_python
import yaml

DEPLOYMENT = """apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-cfg
data:
  greeting: {{ .Values.greeting | quote }}
"""


def package_chart(
    directory: Path,
    name: str = "demo",
    version: str = "0.1.0",
    app_version: str = "1.0.0",
    values: dict | None = None,
    description: str = "A demo chart",
) -> Path:
    """Write a small chart under ``directory`` and package it with the Helm SDK."""
    source = directory / "src" / f"{name}-{version}" / name
    (source / "templates").mkdir(parents=True, exist_ok=True)
    metadata = {
        "apiVersion": "v2",
        "name": name,
        "version": version,
        "appVersion": app_version,
        "description": description,
        "type": "application",
    }
    (source / "Chart.yaml").write_text(yaml.safe_dump(metadata))
    (source / "values.yaml").write_text(yaml.safe_dump(values or {"greeting": "hello"}))
    (source / "templates" / "configmap.yaml").write_text(DEPLOYMENT)
    out = directory / "packages"
    out.mkdir(exist_ok=True)
    return Path(helm_python.package(source, destination=out))


def tgz(members: list[tuple], compress=True) -> bytes:
    """A .tgz of ``members``: (name, bytes) for files, (name, "dir") for directories,
    (name, "symlink", target), (name, "hardlink", target), (name, "device")."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz" if compress else "w") as tar:
        for member in members:
            name, kind = member[0], member[1]
            info = tarfile.TarInfo(name)
            data = None
            if kind == "dir":
                info.type = tarfile.DIRTYPE
            elif kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, member[2]
            elif kind == "hardlink":
                info.type, info.linkname = tarfile.LNKTYPE, member[2]
            elif kind == "device":
                info.type = tarfile.CHRTYPE
            else:
                data = kind
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def chart_yaml(**fields) -> bytes:
    metadata = {"apiVersion": "v2", "name": "demo", "version": "0.1.0"}
    metadata.update(fields)
    return yaml.safe_dump({k: v for k, v in metadata.items() if v is not None}).encode()


def provenance(name: str, version: str, data: bytes, digest: str | None = None) -> bytes:
    """A provenance file in Helm's form (the signature block is not a real signature: the
    portal checks the form and the digest, not the signature; see the real one in
    test_chartmuseum.test_a_gpg_signed_provenance_from_helm)."""
    digest = digest or hashlib.sha256(data).hexdigest()
    body = (
        f"apiVersion: v2\nname: {name}\nversion: {version}\n\n...\n"
        f"files:\n  {name}-{version}.tgz: sha256:{digest}\n"
    )
    return (
        "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n"
        + body
        + "-----BEGIN PGP SIGNATURE-----\n\nwsBcBAEBCgAQBQJ\n=abcd\n-----END PGP SIGNATURE-----\n"
    ).encode()
