"""A tiny deterministic shell that exec/attach run inside simulated containers.

It never touches the host: files live in an in-memory :class:`FileSystem` per container (seeded
from the pod: hostname, hosts, resolv.conf, service-account token, mounted ConfigMaps and
Secrets), environment comes from the container spec. It understands ``;``, ``&&``, ``||``,
pipes, ``>``/``>>`` redirection, ``$VAR``/``$?`` expansion and quoting, a few dozen common
commands, and an interactive mode with prompt and line editing for ``kubectl exec -it``.
"""

from __future__ import annotations

import asyncio
import base64
import re
import shlex
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

Write = Callable[[bytes], Awaitable[None]]
# Directories every simulated container has (in memory, never the host's).
SKELETON_DIRS = "/bin /etc /home /root /tmp /usr/bin /var/log /proc /app".split()


class Interrupt(Exception):
    """Ctrl-C at the prompt."""


class FileSystem:
    """Files (path → text) and directories of one container."""

    def __init__(self) -> None:
        self.files: dict[str, str] = {}
        self.dirs: set[str] = {"/"}

    def mkdir(self, path: str) -> None:
        while path and path not in self.dirs:
            self.dirs.add(path)
            path = path.rsplit("/", 1)[0] or "/"

    def write(self, path: str, text: str, append: bool = False) -> None:
        self.mkdir(path.rsplit("/", 1)[0] or "/")
        self.files[path] = (self.files.get(path, "") if append else "") + text

    def listdir(self, path: str) -> list[str] | None:
        if path not in self.dirs:
            return None
        prefix = path.rstrip("/") + "/"
        names = {
            p[len(prefix) :].split("/", 1)[0]
            for p in list(self.files) + list(self.dirs)
            if p.startswith(prefix) and p != prefix
        }
        return sorted(n for n in names if n)


def container_fs(cluster: Any, pod: dict[str, Any], container: dict[str, Any]) -> FileSystem:
    """The initial filesystem of a container, derived from its pod."""
    fs = FileSystem()
    meta, spec = pod["metadata"], pod.get("spec") or {}
    ip = (pod.get("status") or {}).get("podIP", "10.244.0.10")
    # Directories of the simulated container (in memory, never the host's).
    for d in SKELETON_DIRS:
        fs.mkdir(d)
    fs.write("/etc/hostname", meta["name"] + "\n")
    fs.write("/etc/hosts", f"127.0.0.1\tlocalhost\n{ip}\t{meta['name']}\n")
    fs.write(
        "/etc/resolv.conf",
        f"search {meta.get('namespace')}.svc.cluster.local "
        "svc.cluster.local cluster.local\nnameserver 10.96.0.10\n"
        "options ndots:5\n",
    )
    image = container.get("image", "")
    if "alpine" in image or "busybox" in image:
        fs.write("/etc/os-release", 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.22.0\n')
    else:
        fs.write(
            "/etc/os-release",
            'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n'
            'NAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n',
        )
    fs.write("/proc/1/cmdline", " ".join(container.get("command") or [image.split(":")[0]]))
    sa_dir = "/var/run/secrets/kubernetes.io/serviceaccount"
    fs.write(f"{sa_dir}/namespace", meta.get("namespace", "default"))
    fs.write(f"{sa_dir}/token", "eyJhbGciOiJSUzI1NiJ9.kubesim-projected-token.c2ln")
    fs.write(
        f"{sa_dir}/ca.crt", "-----BEGIN CERTIFICATE-----\n(kubesim)\n-----END CERTIFICATE-----\n"
    )
    volumes = {v.get("name"): v for v in spec.get("volumes") or []}
    for mount in container.get("volumeMounts") or []:
        volume = volumes.get(mount.get("name")) or {}
        path = mount.get("mountPath", "/mnt")
        fs.mkdir(path)
        if "configMap" in volume:
            cm = cluster.find(
                "", "configmaps", meta.get("namespace"), volume["configMap"].get("name", "")
            )
            for key, value in ((cm or {}).get("data") or {}).items():
                fs.write(f"{path.rstrip('/')}/{key}", value)
        elif "secret" in volume:
            secret = cluster.find(
                "", "secrets", meta.get("namespace"), volume["secret"].get("secretName", "")
            )
            for key, value in ((secret or {}).get("data") or {}).items():
                try:
                    text = base64.b64decode(value).decode()
                except (ValueError, UnicodeDecodeError):
                    text = value
                fs.write(f"{path.rstrip('/')}/{key}", text)
    return fs


def container_env(cluster: Any, pod: dict[str, Any], container: dict[str, Any]) -> dict[str, str]:
    meta = pod["metadata"]
    env = {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOSTNAME": meta["name"],
        "HOME": "/root",
        "TERM": "xterm",
        "KUBERNETES_SERVICE_HOST": "10.96.0.1",
        "KUBERNETES_SERVICE_PORT": "443",
        "KUBERNETES_PORT": "tcp://10.96.0.1:443",
    }
    for item in container.get("env") or []:
        name = item.get("name", "")
        if "value" in item:
            env[name] = str(item["value"])
            continue
        source = item.get("valueFrom") or {}
        if "fieldRef" in source:
            path = source["fieldRef"].get("fieldPath", "")
            env[name] = {
                "metadata.name": meta["name"],
                "metadata.namespace": meta.get("namespace", ""),
                "spec.nodeName": (pod.get("spec") or {}).get("nodeName", ""),
                "status.podIP": (pod.get("status") or {}).get("podIP", ""),
            }.get(path, "")
        elif "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            cm = cluster.find("", "configmaps", meta.get("namespace"), ref.get("name", ""))
            env[name] = ((cm or {}).get("data") or {}).get(ref.get("key"), "")
        elif "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            secret = cluster.find("", "secrets", meta.get("namespace"), ref.get("name", ""))
            raw = ((secret or {}).get("data") or {}).get(ref.get("key"), "")
            env[name] = base64.b64decode(raw).decode(errors="replace") if raw else ""
    return env


class ShellIO:
    """The streams of one exec: stdin chunks from a queue, stdout/stderr writers."""

    def __init__(
        self, stdin: asyncio.Queue[bytes | None] | None, out: Write, err: Write, tty: bool
    ):
        self.stdin = stdin
        self._out, self._err = out, err
        self.tty = tty
        self.width, self.height = 80, 24
        self._pending = b""
        self.eof = stdin is None

    async def out(self, text: str) -> None:
        if text:
            await self._out((text.replace("\n", "\r\n") if self.tty else text).encode())

    async def err(self, text: str) -> None:
        if text:
            if self.tty:
                await self.out(text)
            else:
                await self._err(text.encode())

    async def _chunk(self) -> bytes | None:
        if self.stdin is None or self.eof:
            return None
        chunk = await self.stdin.get()
        if chunk is None:
            self.eof = True
        return chunk

    async def read_all(self) -> str:
        data = self._pending
        self._pending = b""
        while (chunk := await self._chunk()) is not None:
            data += chunk
        return data.decode(errors="replace")

    async def read_line(self) -> str | None:
        """One line; with a tty, echo and edit it (backspace, ^U, ^C, ^D, arrows ignored)."""
        if not self.tty:
            while b"\n" not in self._pending:
                chunk = await self._chunk()
                if chunk is None:
                    line, self._pending = self._pending, b""
                    return line.decode(errors="replace") if line else None
                self._pending += chunk
            line, _, self._pending = self._pending.partition(b"\n")
            return line.decode(errors="replace")
        buf = ""
        while True:
            if not self._pending:
                chunk = await self._chunk()
                if chunk is None:
                    return buf or None
                self._pending = chunk
            ch, self._pending = self._pending[:1], self._pending[1:]
            if ch in (b"\r", b"\n"):
                await self._out(b"\r\n")
                return buf
            if ch in (b"\x7f", b"\x08"):
                if buf:
                    buf = buf[:-1]
                    await self._out(b"\x08 \x08")
            elif ch == b"\x03":
                await self._out(b"^C\r\n")
                raise Interrupt
            elif ch == b"\x04":
                if not buf:
                    return None
            elif ch == b"\x15":
                await self._out(b"\x08 \x08" * len(buf))
                buf = ""
            elif ch == b"\x1b":
                # Drop an escape sequence (arrow keys): ESC [ <final byte>.
                while self._pending[:1] and not self._pending[:1].isalpha():
                    self._pending = self._pending[1:]
                self._pending = self._pending[1:]
            elif ch >= b" ":
                buf += ch.decode(errors="replace")
                await self._out(ch)


_VAR = re.compile(r"\$(\?|\{[A-Za-z_][A-Za-z0-9_]*\}|[A-Za-z_][A-Za-z0-9_]*)")
_OPS = {";", "&&", "||", "|", ">", ">>", "&"}


class Shell:
    """One shell session in one container."""

    def __init__(
        self, fs: FileSystem, env: dict[str, str], io: ShellIO, hostname: str, image: str = ""
    ):
        self.fs = fs
        self.env = dict(env)
        self.io = io
        self.hostname = hostname
        self.cwd = "/"
        self.status = 0
        self.exited: int | None = None
        self.busybox = "alpine" in image or "busybox" in image

    # ------------------------------------------------------------ entry points

    async def exec(self, argv: list[str]) -> int:
        """Run an exec request's command vector; returns the exit code."""
        if not argv:
            return 0
        prog = argv[0].rsplit("/", 1)[-1]
        if prog in ("sh", "bash", "ash", "zsh"):
            if len(argv) >= 3 and argv[1] == "-c":
                await self.run_line(argv[2])
                return self.exited if self.exited is not None else self.status
            return await self.interactive()
        self.status = await self.command(argv, None)
        return self.exited if self.exited is not None else self.status

    def prompt(self) -> str:
        if self.busybox:
            return f"{self.cwd} # "
        return f"root@{self.hostname}:{self.cwd}# "

    async def interactive(self) -> int:
        while self.exited is None:
            if self.io.tty:
                await self.io.out(self.prompt())
            try:
                line = await self.io.read_line()
            except Interrupt:
                self.status = 130
                continue
            if line is None:
                if self.io.tty:
                    await self.io.out("exit\n")
                break
            await self.run_line(line)
        return self.exited if self.exited is not None else self.status

    # ------------------------------------------------------------ parsing

    def expand(self, line: str) -> str:
        out, quote = [], None
        i = 0
        while i < len(line):
            ch = line[i]
            if ch == "'" and quote != '"':
                quote = None if quote == "'" else "'"
            elif ch == '"' and quote != "'":
                quote = None if quote == '"' else '"'
            elif ch == "$" and quote != "'":
                match = _VAR.match(line, i)
                if match:
                    name = match.group(1).strip("{}")
                    value = str(self.status) if name == "?" else self.env.get(name, "")
                    out.append(shlex.quote(value) if quote is None and value else value)
                    i = match.end()
                    continue
            out.append(ch)
            i += 1
        return "".join(out)

    async def run_line(self, line: str) -> None:
        line = line.strip()
        if not line or line.startswith("#"):
            return
        try:
            lexer = shlex.shlex(self.expand(line), posix=True, punctuation_chars=";&|>")
            lexer.whitespace_split = True
            tokens = list(lexer)
        except ValueError as exc:
            await self.io.err(f"sh: syntax error: {exc}\n")
            self.status = 2
            return
        chains: list[tuple[str, list[str]]] = []
        current: list[str] = []
        joiner = ";"
        for tok in tokens:
            if tok in (";", "&&", "||", "&"):
                chains.append((joiner, current))
                current, joiner = [], tok
            else:
                current.append(tok)
        chains.append((joiner, current))
        for joiner, words in chains:
            if self.exited is not None:
                return
            if not words:
                continue
            if joiner == "&&" and self.status != 0 or joiner == "||" and self.status == 0:
                continue
            self.status = await self.pipeline(words)

    async def pipeline(self, words: list[str]) -> int:
        stages: list[list[str]] = [[]]
        for w in words:
            if w == "|":
                stages.append([])
            else:
                stages[-1].append(w)
        data: str | None = None
        code = 0
        for index, stage in enumerate(stages):
            redirect, append = None, False
            if ">" in stage or ">>" in stage:
                pos = next(i for i, w in enumerate(stage) if w in (">", ">>"))
                append = stage[pos] == ">>"
                redirect = stage[pos + 1] if pos + 1 < len(stage) else None
                stage = stage[:pos]
            last = index == len(stages) - 1
            if last and redirect is None:
                code = await self.command(stage, data)
            else:
                buffer: list[str] = []
                code = await self.command(stage, data, buffer)
                data = "".join(buffer)
                if redirect is not None:
                    self.fs.write(self._abs(redirect), data, append)
                    data = None
        return code

    # ------------------------------------------------------------ commands

    def _abs(self, path: str) -> str:
        if not path.startswith("/"):
            path = self.cwd.rstrip("/") + "/" + path
        parts: list[str] = []
        for part in path.split("/"):
            if part in ("", "."):
                continue
            if part == "..":
                if parts:
                    parts.pop()
            else:
                parts.append(part)
        return "/" + "/".join(parts)

    async def command(
        self, argv: list[str], stdin: str | None, capture: list[str] | None = None
    ) -> int:
        if not argv:
            return 0
        if "=" in argv[0] and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", argv[0]):
            name, _, value = argv[0].partition("=")
            self.env[name] = value
            return 0 if len(argv) == 1 else await self.command(argv[1:], stdin, capture)

        async def out(text: str) -> None:
            if capture is not None:
                capture.append(text)
            else:
                await self.io.out(text)

        name = argv[0].rsplit("/", 1)[-1]
        handler = self.find_command(name)
        if handler is None:
            await self.io.err(f"sh: {argv[0]}: not found\n")
            return 127
        return await handler(argv[1:], stdin, out)

    def find_command(self, name: str) -> Callable[..., Awaitable[int]] | None:
        """The built-in that runs ``name`` (a program of the simulated image), or None."""
        return getattr(self, "cmd_" + name.replace("-", "_").replace("[", "test"), None)

    async def _input(self, stdin: str | None, files: list[str]) -> tuple[str, int]:
        if files:
            text, code = "", 0
            for f in files:
                path = self._abs(f)
                if path in self.fs.files:
                    text += self.fs.files[path]
                else:
                    await self.io.err(f"{f}: No such file or directory\n")
                    code = 1
            return text, code
        if stdin is not None:
            return stdin, 0
        return await self.io.read_all(), 0

    async def cmd_echo(self, args, stdin, out) -> int:
        newline = True
        if args and args[0] == "-n":
            newline, args = False, args[1:]
        await out(" ".join(args) + ("\n" if newline else ""))
        return 0

    async def cmd_printf(self, args, stdin, out) -> int:
        if not args:
            return 0
        fmt = args[0].replace("\\n", "\n").replace("\\t", "\t")
        try:
            await out(fmt.replace("%s", "{}").format(*args[1:]) if "%s" in fmt else fmt)
        except IndexError:
            await out(fmt.replace("%s", ""))
        return 0

    async def cmd_cat(self, args, stdin, out) -> int:
        files = [a for a in args if not a.startswith("-")]
        if not files and stdin is None:
            # Like the real cat: copy stdin through as it arrives, until EOF.
            while (chunk := await self.io._chunk()) is not None:
                await out(chunk.decode(errors="replace"))
            return 0
        text, code = await self._input(stdin, files)
        await out(text)
        return code

    async def cmd_ls(self, args, stdin, out) -> int:
        flags = "".join(a[1:] for a in args if a.startswith("-"))
        paths = [a for a in args if not a.startswith("-")] or [self.cwd]
        code = 0
        for p in paths:
            path = self._abs(p)
            if path in self.fs.files:
                await out(p + "\n")
                continue
            names = self.fs.listdir(path)
            if names is None:
                await self.io.err(f"ls: cannot access '{p}': No such file or directory\n")
                code = 2
                continue
            if "a" in flags:
                names = [".", ".."] + names
            if "l" in flags:
                for n in names:
                    full = self._abs(f"{path}/{n}")
                    is_dir = full in self.fs.dirs or n in (".", "..")
                    size = len(self.fs.files.get(full, "")) if not is_dir else 4096
                    await out(
                        f"{'d' if is_dir else '-'}rw-r--r--    1 root     root  "
                        f"{size:>8} Jan  1 00:00 {n}\n"
                    )
            elif names:
                await out(("\n" if "1" in flags or not self.io.tty else "  ").join(names) + "\n")
        return code

    async def cmd_pwd(self, args, stdin, out) -> int:
        await out(self.cwd + "\n")
        return 0

    async def cmd_cd(self, args, stdin, out) -> int:
        target = self._abs(args[0]) if args else "/root"
        if target not in self.fs.dirs:
            await self.io.err(
                f"sh: cd: can't cd to {args[0] if args else target}: No such file or directory\n"
            )
            return 2
        self.cwd = target
        return 0

    async def cmd_env(self, args, stdin, out) -> int:
        await out("".join(f"{k}={v}\n" for k, v in sorted(self.env.items())))
        return 0

    async def cmd_printenv(self, args, stdin, out) -> int:
        if not args:
            return await self.cmd_env(args, stdin, out)
        code = 0
        for name in args:
            if name in self.env:
                await out(self.env[name] + "\n")
            else:
                code = 1
        return code

    async def cmd_export(self, args, stdin, out) -> int:
        for item in args:
            name, _, value = item.partition("=")
            self.env[name] = value
        return 0

    async def cmd_unset(self, args, stdin, out) -> int:
        for name in args:
            self.env.pop(name, None)
        return 0

    async def cmd_hostname(self, args, stdin, out) -> int:
        await out(self.hostname + "\n")
        return 0

    async def cmd_whoami(self, args, stdin, out) -> int:
        await out("root\n")
        return 0

    async def cmd_id(self, args, stdin, out) -> int:
        await out("uid=0(root) gid=0(root) groups=0(root)\n")
        return 0

    async def cmd_uname(self, args, stdin, out) -> int:
        if "-a" in args:
            await out(f"Linux {self.hostname} 6.1.0-kubesim #1 SMP x86_64 GNU/Linux\n")
        elif "-m" in args:
            await out("x86_64\n")
        elif "-r" in args:
            await out("6.1.0-kubesim\n")
        else:
            await out("Linux\n")
        return 0

    async def cmd_date(self, args, stdin, out) -> int:
        await out(datetime.now(UTC).strftime("%a %b %d %H:%M:%S UTC %Y") + "\n")
        return 0

    async def cmd_exit(self, args, stdin, out) -> int:
        try:
            self.exited = int(args[0]) % 256 if args else self.status
        except ValueError:
            await self.io.err(f"sh: exit: Illegal number: {args[0]}\n")
            self.exited = 2
        return self.exited

    async def cmd_sleep(self, args, stdin, out) -> int:
        try:
            await asyncio.sleep(min(float(args[0]) if args else 0, 3600))
        except ValueError:
            await self.io.err(f"sleep: invalid number '{args[0]}'\n")
            return 1
        return 0

    async def cmd_true(self, args, stdin, out) -> int:
        return 0

    async def cmd_false(self, args, stdin, out) -> int:
        return 1

    async def cmd_touch(self, args, stdin, out) -> int:
        for a in args:
            path = self._abs(a)
            self.fs.write(path, self.fs.files.get(path, ""))
        return 0

    async def cmd_mkdir(self, args, stdin, out) -> int:
        for a in args:
            if not a.startswith("-"):
                self.fs.mkdir(self._abs(a))
        return 0

    async def cmd_rm(self, args, stdin, out) -> int:
        code = 0
        for a in (a for a in args if not a.startswith("-")):
            path = self._abs(a)
            if path in self.fs.files:
                del self.fs.files[path]
            elif path in self.fs.dirs and "-r" in " ".join(args):
                self.fs.dirs = {d for d in self.fs.dirs if not d.startswith(path)}
                self.fs.files = {
                    f: v for f, v in self.fs.files.items() if not f.startswith(path + "/")
                }
            elif "-f" not in args:
                await self.io.err(f"rm: can't remove '{a}': No such file or directory\n")
                code = 1
        return code

    async def cmd_grep(self, args, stdin, out) -> int:
        flags = "".join(a[1:] for a in args if a.startswith("-"))
        rest = [a for a in args if not a.startswith("-")]
        if not rest:
            await self.io.err("Usage: grep [-icv] PATTERN [FILE]...\n")
            return 2
        pattern = re.compile(rest[0], re.IGNORECASE if "i" in flags else 0)
        text, code = await self._input(stdin, rest[1:])
        hits = [ln for ln in text.splitlines() if bool(pattern.search(ln)) != ("v" in flags)]
        await out(f"{len(hits)}\n" if "c" in flags else "".join(h + "\n" for h in hits))
        return code or (0 if hits else 1)

    def _count(self, args: list[str]) -> tuple[int, list[str]]:
        n, files, i = 10, [], 0
        while i < len(args):
            if args[i] == "-n" and i + 1 < len(args):
                n, i = int(args[i + 1]), i + 2
                continue
            if re.match(r"^-\d+$", args[i]):
                n = int(args[i][1:])
            else:
                files.append(args[i])
            i += 1
        return n, files

    async def cmd_head(self, args, stdin, out) -> int:
        n, files = self._count(args)
        text, code = await self._input(stdin, files)
        await out("".join(ln + "\n" for ln in text.splitlines()[:n]))
        return code

    async def cmd_tail(self, args, stdin, out) -> int:
        n, files = self._count(args)
        text, code = await self._input(stdin, files)
        await out("".join(ln + "\n" for ln in (text.splitlines()[-n:] if n else [])))
        return code

    async def cmd_wc(self, args, stdin, out) -> int:
        text, code = await self._input(stdin, [a for a in args if not a.startswith("-")])
        counts = {"l": text.count("\n"), "w": len(text.split()), "c": len(text.encode())}
        wanted = [f for f in "lwc" if f in "".join(args)] or ["l", "w", "c"]
        await out(" ".join(f"{counts[f]:>7}" for f in wanted) + "\n")
        return code

    async def cmd_sort(self, args, stdin, out) -> int:
        text, code = await self._input(stdin, [a for a in args if not a.startswith("-")])
        lines = sorted(text.splitlines(), reverse="-r" in args)
        await out("".join(ln + "\n" for ln in lines))
        return code

    async def cmd_seq(self, args, stdin, out) -> int:
        nums = [int(a) for a in args[:3]] if args else [1]
        start, stop = (1, nums[0]) if len(nums) == 1 else (nums[0], nums[-1])
        await out("".join(f"{i}\n" for i in range(start, stop + 1)))
        return 0

    async def cmd_tee(self, args, stdin, out) -> int:
        text, _ = await self._input(stdin, [])
        for a in (a for a in args if not a.startswith("-")):
            self.fs.write(self._abs(a), text, "-a" in args)
        await out(text)
        return 0

    async def cmd_stty(self, args, stdin, out) -> int:
        if "size" in args:
            await out(f"{self.io.height} {self.io.width}\n")
        return 0

    async def cmd_ps(self, args, stdin, out) -> int:
        cmdline = self.fs.files.get("/proc/1/cmdline", "app")
        await out(
            f"PID   USER     TIME  COMMAND\n    1 root      0:00 {cmdline}\n"
            f"   42 root      0:00 sh\n"
        )
        return 0

    async def cmd_nproc(self, args, stdin, out) -> int:
        await out("2\n")
        return 0

    async def cmd_clear(self, args, stdin, out) -> int:
        await out("\x1b[H\x1b[2J")
        return 0

    async def cmd_which(self, args, stdin, out) -> int:
        code = 0
        for a in args:
            if hasattr(self, "cmd_" + a):
                await out(f"/bin/{a}\n")
            else:
                code = 1
        return code

    async def cmd_help(self, args, stdin, out) -> int:
        names = sorted(n[4:] for n in dir(self) if n.startswith("cmd_"))
        await out("Built-in commands:\n" + " ".join(names) + "\n")
        return 0

    async def cmd_test(self, args, stdin, out) -> int:
        args = [a for a in args if a != "]"]
        if len(args) == 2 and args[0] in ("-f", "-e", "-d"):
            path = self._abs(args[1])
            ok = (
                path in self.fs.dirs
                if args[0] == "-d"
                else (path in self.fs.files or (args[0] == "-e" and path in self.fs.dirs))
            )
            return 0 if ok else 1
        if len(args) == 3 and args[1] in ("=", "==", "!="):
            return 0 if (args[0] == args[2]) == (args[1] != "!=") else 1
        if len(args) == 2 and args[0] in ("-n", "-z"):
            return 0 if bool(args[1]) == (args[0] == "-n") else 1
        return 0 if args and args[0] else 1

    async def cmd_sh(self, args, stdin, out) -> int:
        """A nested ``sh -c '…'`` (or a sub-shell) runs in the same session."""
        if len(args) >= 2 and args[0] == "-c":
            await self.run_line(args[1])
            return self.status
        return await self.interactive()

    cmd_bash = cmd_ash = cmd_sh
