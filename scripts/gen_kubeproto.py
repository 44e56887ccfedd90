"""Generate ``apps/core/kubeproto/schema.py`` from the Kubernetes API's own definitions.

Usage::

    python scripts/gen_kubeproto.py API_GIT_DIR APIMACHINERY_GIT_DIR

where the two arguments are git directories (bare or not) of ``kubernetes/api`` and
``kubernetes/apimachinery``. Nothing of theirs is copied: the script reads, for every stable
group version, ``generated.proto`` (message names, field numbers, wire types, maps, repeated)
and the Go ``types.go`` struct tags beside it (the JSON name of each field number, and whether
the Go field is a pointer or ``omitempty`` — which decides whether a zero value that gogo
protobuf always writes is shown in JSON), plus ``register.go``'s ``GroupName``; it writes the
facts it found as one compact Python table.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "apps" / "core" / "kubeproto" / "schema.py"

# apimachinery packages the API types refer to (plus meta/v1, whose kinds every group serves).
MACHINERY_DIRS = {
    "pkg/apis/meta/v1": "meta/v1",
    "pkg/runtime": "runtime",
    "pkg/runtime/schema": "schema",
    "pkg/api/resource": "resource",
    "pkg/util/intstr": "intstr",
}
STABLE = re.compile(r"^v\d+$")

MESSAGE = re.compile(r"^message (\w+) \{$")
FIELD = re.compile(
    r"^\s*(optional|repeated)\s+(\S+)\s+(\w+)\s*=\s*(\d+)\s*(\[packed\s*=\s*true\])?\s*;"
)
MAP_FIELD = re.compile(r"^\s*map<(\w+),\s*(\S+)>\s+(\w+)\s*=\s*(\d+)\s*;")
GO_STRUCT = re.compile(r"^type (\w+) struct \{$")
GO_FIELD = re.compile(r"^\t(?:(\w+)\s+)?(\*?[\w.\[\]*]+)\s+`([^`]*)`")
PROTO_TAG = re.compile(r'protobuf:"\w+,(\d+),')
JSON_TAG = re.compile(r'json:"([^"]*)"')

REPEATED, MAP, POINTER, OMITEMPTY, PACKED, LISTWRAP, INLINE = 1, 2, 4, 8, 16, 32, 64


def git_files(gitdir: str) -> list[str]:
    out = subprocess.run(
        ["git", "--git-dir", gitdir, "ls-tree", "-r", "--name-only", "HEAD"],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.split()


def git_show(gitdir: str, path: str) -> str:
    out = subprocess.run(
        ["git", "--git-dir", gitdir, "show", f"HEAD:{path}"],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout


def package_key(proto_package: str) -> str:
    for prefix in ("k8s.io.api.", "k8s.io.apimachinery.pkg.apis."):
        if proto_package.startswith(prefix):
            return proto_package[len(prefix) :].replace(".", "/")
    rest = proto_package[len("k8s.io.apimachinery.pkg.") :]
    return MACHINERY_DIRS["pkg/" + rest.replace(".", "/")]


def go_fields(sources: list[str]) -> dict[str, dict[int, tuple[str, bool, bool, bool]]]:
    """struct name → {field number: (json name, pointer, omitempty)} from Go struct tags."""
    structs: dict[str, dict[int, tuple[str, bool, bool, bool]]] = {}
    for text in sources:
        current: dict[int, tuple[str, bool, bool, bool]] | None = None
        for line in text.splitlines():
            start = GO_STRUCT.match(line)
            if start:
                current = structs.setdefault(start.group(1), {})
                continue
            if line.startswith("}"):
                current = None
                continue
            if current is None:
                continue
            field = GO_FIELD.match(line)
            if not field:
                continue
            gotype, tags = field.group(2), field.group(3)
            num, js = PROTO_TAG.search(tags), JSON_TAG.search(tags)
            if not num or not js:
                continue
            name, _, opts = js.group(1).partition(",")
            omit = "omitempty" in opts or "omitzero" in opts
            inline = not name and field.group(1) is None
            current[int(num.group(1))] = (name, gotype.startswith("*"), omit, inline)
    return structs


def parse_proto(text: str, pkg: str, gofields: dict) -> tuple[str, dict[str, list]]:
    proto_package = re.search(r"^package ([\w.]+);", text, re.M).group(1)
    assert package_key(proto_package) == pkg, (proto_package, pkg)
    messages: dict[str, list] = {}
    current: list | None = None
    nullable = False
    for line in text.splitlines():
        if "+protobuf.nullable=true" in line:
            nullable = True
        start = MESSAGE.match(line)
        if start:
            name = start.group(1)
            current = messages.setdefault(name, [])
            go = gofields.get(name, {})
            wrap = nullable
            nullable = False
            continue
        if line.startswith("}"):
            if current is not None and wrap and len(current) == 1 and current[0][0] == "items":
                current[0][3] |= LISTWRAP
            current = None
            continue
        if current is None or line.strip().startswith("//"):
            continue
        m = MAP_FIELD.match(line)
        if m:
            key, value, pname, num = m.groups()
            ftype, flags = f"map<{key},{resolve(value, pkg)}>", MAP
        else:
            f = FIELD.match(line)
            if not f:
                continue
            label, value, pname, num, packed = f.groups()
            ftype = resolve(value, pkg)
            flags = (REPEATED if label == "repeated" else 0) | (PACKED if packed else 0)
        num = int(num)
        jname, pointer, omit, inline = go.get(num, (pname, False, True, False))
        flags |= (POINTER if pointer else 0) | (OMITEMPTY if omit else 0)
        flags |= INLINE if inline else 0
        current.append([jname or pname, num, ftype, flags])
    return proto_package, messages


SCALARS = {
    "string",
    "bytes",
    "bool",
    "int32",
    "int64",
    "uint32",
    "uint64",
    "double",
    "float",
}


def resolve(value: str, pkg: str) -> str:
    if value in SCALARS:
        return value
    if value.startswith("."):
        package, _, name = value[1:].rpartition(".")
        return f"{package_key(package)}.{name}"
    return f"{pkg}.{value}"


def main(api_git: str, machinery_git: str) -> None:
    packages: dict[str, dict[str, list]] = {}
    groups: dict[str, str] = {}
    for gitdir, dirs in ((machinery_git, MACHINERY_DIRS), (api_git, None)):
        files = git_files(gitdir)
        if dirs is None:
            dirs = {}
            for path in files:
                parts = path.split("/")
                if len(parts) == 3 and parts[2] == "generated.proto" and STABLE.match(parts[1]):
                    dirs[f"{parts[0]}/{parts[1]}"] = f"{parts[0]}/{parts[1]}"
        for directory, pkg in sorted(dirs.items()):
            go_sources = [
                git_show(gitdir, p)
                for p in files
                if p.rsplit("/", 1)[0] == directory
                and p.endswith(".go")
                and not p.endswith("_test.go")
                and "generated" not in p.rsplit("/", 1)[1]
            ]
            text = git_show(gitdir, f"{directory}/generated.proto")
            _, messages = parse_proto(text, pkg, go_fields(go_sources))
            packages[pkg] = messages
            if gitdir == api_git:
                register = git_show(gitdir, f"{directory}/register.go")
                group = re.search(r'GroupName\s*=\s*"([^"]*)"', register).group(1)
                version = directory.rsplit("/", 1)[1]
                groups[f"{group}/{version}" if group else version] = pkg
    groups["meta.k8s.io/v1"] = "meta/v1"
    write(packages, groups, api_git, machinery_git)


def write(packages: dict, groups: dict, api_git: str, machinery_git: str) -> None:
    def head(gitdir: str) -> str:
        out = subprocess.run(
            ["git", "--git-dir", gitdir, "rev-parse", "HEAD"],
            check=True,
            capture_output=True,
            text=True,
        )
        return out.stdout.strip()

    lines = [
        '"""Kubernetes protobuf schema table — GENERATED by scripts/gen_kubeproto.py; do not edit.',
        "",
        "Facts of the Kubernetes API (field numbers, wire types, JSON names) read from the",
        f"generated.proto files and Go struct tags of kubernetes/api {head(api_git)[:12]} and",
        f"kubernetes/apimachinery {head(machinery_git)[:12]}, stable group versions only.",
        "",
        "MESSAGES: ``package/version.Message`` → tuple of fields ``(json name, number, type,",
        "flags)``; type is a scalar, a message key or ``map<key,value>``; flags are bits of",
        "REPEATED, MAP, POINTER, OMITEMPTY, PACKED, LISTWRAP (a message that is a JSON list) and",
        "INLINE (an embedded Go struct whose fields JSON shows in the parent).",
        "GROUP_VERSIONS: apiVersion → package key whose messages are its kinds.",
        '"""',
        "",
        "# ruff: noqa: E501",
        f"REPEATED, MAP, POINTER, OMITEMPTY, PACKED, LISTWRAP, INLINE = "
        f"{REPEATED}, {MAP}, {POINTER}, {OMITEMPTY}, {PACKED}, {LISTWRAP}, {INLINE}",
        "",
        "GROUP_VERSIONS = {",
    ]
    lines += [f"    {gv!r}: {pkg!r}," for gv, pkg in sorted(groups.items())]
    lines += ["}", "", "MESSAGES = {"]
    for pkg in sorted(packages):
        for name in sorted(packages[pkg]):
            fields = ", ".join(f"({j!r}, {n}, {t!r}, {f})" for j, n, t, f in packages[pkg][name])
            lines.append(f"    {pkg + '.' + name!r}: ({fields}{',' if fields else ''}),")
    lines += ["}", ""]
    OUT.write_text("\n".join(lines))
    count = sum(len(m) for m in packages.values())
    print(f"wrote {OUT} with {count} messages in {len(packages)} packages")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
