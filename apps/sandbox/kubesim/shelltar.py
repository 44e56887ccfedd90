"""``tar`` of the simulated shell: real tar streams (Python ``tarfile``) over the container's
in-memory filesystem — what ``kubectl cp`` runs through exec (``tar cf - <path>`` to copy out,
``tar -xmf - -C <dir>`` to copy in).

File contents are held as text decoded with ``surrogateescape`` (:func:`.shell.to_text`), so
binary files round-trip byte for byte.
"""

from __future__ import annotations

import io
import posixpath
import tarfile
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .shell import Shell

Out = Callable[[str], Awaitable[None]]
_FAIL = "tar: Exiting with failure status due to previous errors\n"


def _options(args: list[str]) -> tuple[str, dict[str, str], list[str]] | str:
    """(mode flags, {"f": archive, "C": dir}, members), or the usage error. The first word may
    bundle flags without a dash (``tar cf - x``), as GNU and busybox tar accept."""
    flags, values, members = "", {}, []
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg.startswith("--"):
            name, _, value = arg[2:].partition("=")
            key = {"file": "f", "directory": "C"}.get(name)
            if key:
                if not value and i < len(args):
                    value, i = args[i], i + 1
                values[key] = value
            continue  # --no-same-owner and the like change nothing here
        if arg.startswith("-") and len(arg) > 1 or (i == 1 and not arg.startswith("-")):
            letters = arg.lstrip("-")
            for pos, letter in enumerate(letters):
                if letter in "fC":
                    value = letters[pos + 1 :]
                    if not value:
                        if i >= len(args):
                            return f"tar: option requires an argument -- '{letter}'\n"
                        value, i = args[i], i + 1
                    values[letter] = value
                    break
                flags += letter
            continue
        members.append(arg)
    return flags, values, members


async def run_tar(shell: Shell, args: list[str], stdin: str | None, out: Out) -> int:
    from .shell import to_bytes, to_text

    parsed = _options(args)
    if isinstance(parsed, str):
        await shell.err(parsed)
        return 2
    flags, values, members = parsed
    modes = [m for m in "ctx" if m in flags]
    if len(modes) != 1:
        await shell.err("tar: You must specify one of the '-Acdtrux' options\n")
        return 2
    gzip = "z" in flags
    base = shell._abs(values.get("C", "."))
    if base not in shell.fs.dirs:
        await shell.err(
            f"tar: {values['C']}: Cannot open: No such file or directory\n"
            "tar: Error is not recoverable: exiting now\n"
        )
        return 2
    archive = values.get("f", "-")
    if modes[0] == "c":
        data, code = await _create(shell, base, members, gzip)
        if archive == "-":
            await out(to_text(data))
        else:
            shell.fs.write(shell._abs(archive), to_text(data))
        return code
    if archive == "-":
        raw = to_bytes(stdin if stdin is not None else await shell.io.read_all())
    else:
        path = shell._abs(archive)
        if path not in shell.fs.files:
            await shell.err(
                f"tar: {archive}: Cannot open: No such file or directory\n"
                "tar: Error is not recoverable: exiting now\n"
            )
            return 2
        raw = to_bytes(shell.fs.files[path])
    try:
        tar = tarfile.open(fileobj=io.BytesIO(raw), mode="r:*")
    except (tarfile.TarError, EOFError, OSError):
        await shell.err("tar: This does not look like a tar archive\n" + _FAIL)
        return 2
    with tar:
        if modes[0] == "t":
            for member in tar.getmembers():
                await out(member.name + ("/" if member.isdir() else "") + "\n")
            return 0
        return await _extract(shell, tar, base, "v" in flags, out)


async def _create(shell: Shell, base: str, members: list[str], gzip: bool) -> tuple[bytes, int]:
    from .shell import to_bytes

    buffer = io.BytesIO()
    code, warned = 0, False
    now = int(time.time())
    with tarfile.open(
        fileobj=buffer, mode="w:gz" if gzip else "w", format=tarfile.GNU_FORMAT
    ) as tar:

        def add(path: str, name: str) -> None:
            info = tarfile.TarInfo(name)
            info.mtime, info.uname, info.gname = now, "root", "root"
            if path in shell.fs.dirs:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
                for child in shell.fs.listdir(path) or []:
                    add(posixpath.join(path, child), posixpath.join(name, child))
            else:
                data = to_bytes(shell.fs.files[path])
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data))

        for member in members:
            path = shell._abs(posixpath.join(base, member))
            if path not in shell.fs.files and path not in shell.fs.dirs:
                await shell.err(f"tar: {member}: Cannot stat: No such file or directory\n")
                code = 2
                continue
            name = posixpath.normpath(member)
            if name.startswith("/"):
                if not warned:
                    await shell.err("tar: Removing leading `/' from member names\n")
                    warned = True
                name = name.lstrip("/") or "."
            add(path, name)
    if code:
        await shell.err(_FAIL)
    return buffer.getvalue(), code


async def _extract(shell: Shell, tar: tarfile.TarFile, base: str, verbose: bool, out: Out) -> int:
    from .shell import to_text

    code = 0
    for member in tar.getmembers():
        name = member.name
        if name.startswith("/") or ".." in name.split("/"):
            # GNU tar strips these rather than writing outside the target directory.
            await shell.err(f"tar: {name}: Member name contains '..'\n")
            code = 2
            continue
        path = shell._abs(posixpath.join(base, name))
        if verbose:
            await out(name + "\n")
        if member.isdir():
            shell.fs.mkdir(path)
        elif member.isfile():
            extracted = tar.extractfile(member)
            shell.fs.write(path, to_text(extracted.read() if extracted else b""))
        elif member.issym() or member.islnk():
            target = shell._abs(posixpath.join(posixpath.dirname(path), member.linkname))
            shell.fs.write(path, shell.fs.files.get(target, ""))
    if code:
        await shell.err(_FAIL)
    return code
