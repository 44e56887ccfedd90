"""A tiny deterministic shell that exec/attach run inside simulated containers.

It never touches the host: files live in an in-memory filesystem per container, seeded from
the pod, and the environment comes from the container spec (:mod:`.containerfs`). It
understands ``;``, ``&&``, ``||``, pipes, redirections (``>``, ``>>``, ``<``, ``2>&1``,
``>&2``, ``/dev/null``), here-documents, ``$VAR``/``$?``/``$((…))`` expansion and quoting
(:mod:`.shellsyntax`), a few dozen common commands including ``tar`` (:mod:`.shelltar`, for
``kubectl cp``), and an interactive mode with prompt and line editing for ``kubectl exec -it``.
Multi-line scripts (``sh -c``) run line by line.

Contents are text decoded with ``surrogateescape``: any bytes round-trip unchanged.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import shlex
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from .containerfs import FileSystem, HostAccess
from .shellsyntax import (
    MARK,
    ArithmeticError_,
    arithmetic,
    find_arithmetic,
    mark_redirections,
    parse_marker,
    split_chains,
)
from .shelltar import run_tar

Write = Callable[[bytes], Awaitable[None]]
TextWrite = Callable[[str], Awaitable[None]]


def to_text(data: bytes) -> str:
    """Bytes as the shell holds them: lossless for any bytes, not only UTF-8."""
    return data.decode("utf-8", "surrogateescape")


def to_bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


class Interrupt(Exception):
    """Ctrl-C at the prompt."""


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
            await self._out(to_bytes(text.replace("\n", "\r\n") if self.tty else text))

    async def err(self, text: str) -> None:
        if text:
            if self.tty:
                await self.out(text)
            else:
                await self._err(to_bytes(text))

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
        return to_text(data)

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


_VAR = re.compile(
    r"\$(?:(\?)|\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))"
)


class Shell:
    """One shell session in one container."""

    def __init__(
        self,
        fs: FileSystem,
        env: dict[str, str],
        io: ShellIO,
        hostname: str,
        image: str = "",
        host: HostAccess | None = None,
    ):
        self.fs = fs
        self.env = dict(env)
        self.io = io
        self.hostname = hostname
        # The node this container may enter with nsenter (privileged, hostPID), or None.
        self.host = host
        self.cwd = "/"
        self.status = 0
        self.exited: int | None = None
        self.busybox = "alpine" in image or "busybox" in image
        # Where the running command's stderr goes (2>&1, 2>file, 2>/dev/null change it).
        self._stderr: TextWrite = io.err

    async def err(self, text: str) -> None:
        await self._stderr(text)

    # ------------------------------------------------------------ entry points

    async def exec(self, argv: list[str]) -> int:
        """Run an exec request's command vector; returns the exit code."""
        if not argv:
            return 0
        prog = argv[0].rsplit("/", 1)[-1]
        if prog in ("sh", "bash", "ash", "zsh"):
            if len(argv) >= 3 and argv[1] == "-c":
                await self.run_script(argv[2])
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
            bodies = []
            for doc in mark_redirections(line)[1]:
                body: list[str] = []
                while True:
                    if self.io.tty:
                        await self.io.out("> ")
                    more = await self.io.read_line()
                    text = more.lstrip("\t") if more is not None and doc.strip_tabs else more
                    if text is None or text == doc.delimiter:
                        break
                    body.append(text + "\n")
                bodies.append(self._heredoc("".join(body), doc.expand))
            await self.run_line(line, bodies)
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
            elif line.startswith("$((", i) and quote != "'":
                end = find_arithmetic(line, i)
                if end is not None:
                    out.append(str(arithmetic(line[i + 3 : end - 2], self.env)))
                    i = end
                    continue
            elif ch == "$" and quote != "'":
                match = _VAR.match(line, i)
                if match:
                    if match.group(1):
                        value = str(self.status)
                    else:  # $NAME, ${NAME}, ${NAME:-default}
                        value = self.env.get(match.group(2) or match.group(4), "")
                        value = value or (match.group(3) or "")
                    out.append(shlex.quote(value) if quote is None and value else value)
                    i = match.end()
                    continue
            out.append(ch)
            i += 1
        return "".join(out)

    def _heredoc(self, body: str, expand: bool) -> str:
        if not expand:
            return body
        # As in double quotes: $VAR and $((…)) expand, quotes stay as they are.
        return self.expand('"' + body.replace('"', "\x00") + '"')[1:-1].replace("\x00", '"')

    async def run_script(self, script: str) -> None:
        """Several lines (``sh -c``): each runs in turn; a here-document's body is the lines
        after its command, up to the delimiter line."""
        lines = script.split("\n")
        while lines and self.exited is None:
            line = lines.pop(0)
            bodies = []
            for doc in mark_redirections(line)[1]:
                body: list[str] = []
                while lines:
                    text = lines.pop(0)
                    text = text.lstrip("\t") if doc.strip_tabs else text
                    if text == doc.delimiter:
                        break
                    body.append(text + "\n")
                bodies.append(self._heredoc("".join(body), doc.expand))
            await self.run_line(line, bodies)

    async def run_line(self, line: str, heredocs: list[str] | None = None) -> None:
        line = line.strip()
        if not line or line.startswith("#"):
            return
        try:
            chains = split_chains(line)
        except ValueError as exc:
            await self.io.err(f"sh: syntax error: {exc}\n")
            self.status = 2
            return
        docs = list(heredocs or [])
        for joiner, command in chains:
            if self.exited is not None:
                return
            # Each command's here-documents, in order of appearance on the line.
            mine = [docs.pop(0) if docs else "" for _ in mark_redirections(command)[1]]
            if joiner == "&&" and self.status != 0 or joiner == "||" and self.status == 0:
                continue
            # Expanded when it runs, not before: "n=1; echo $n" sees the assignment.
            try:
                marked, _ = mark_redirections(self.expand(command))
                lexer = shlex.shlex(marked, posix=True, punctuation_chars="|")
                lexer.whitespace_split = True
                lexer.wordchars += MARK
                words = list(lexer)
            except ArithmeticError_ as exc:
                await self.io.err(f"sh: {exc}\n")
                self.status = 2
                continue
            except ValueError as exc:
                await self.io.err(f"sh: syntax error: {exc}\n")
                self.status = 2
                return
            if words:
                self.status = await self.pipeline(words, mine)

    async def pipeline(self, words: list[str], heredocs: list[str] | None = None) -> int:
        stages: list[list[str]] = [[]]
        for w in words:
            if w == "|":
                stages.append([])
            else:
                stages[-1].append(w)
        data: str | None = None
        code = 0
        for index, stage in enumerate(stages):
            last = index == len(stages) - 1
            argv: list[str] = []
            # fd → "out" (the terminal, or the next stage's pipe), "err", "null" or a file
            fds: dict[int, tuple[str, str]] = {1: ("out", ""), 2: ("err", "")}
            truncate: set[str] = set()
            words_left = iter(stage)
            for word in words_left:
                redirect = parse_marker(word)
                if redirect is None:
                    argv.append(word)
                    continue
                if redirect.op == "D":
                    fds[redirect.fd] = fds.get(redirect.dup, ("null", ""))
                    continue
                if redirect.op == "H":
                    docs = heredocs or []
                    data = docs[redirect.index] if redirect.index < len(docs) else ""
                    continue
                target = next(words_left, None)
                if target is None:
                    await self.io.err("sh: syntax error: unexpected newline\n")
                    return 2
                path = self._abs(target)
                if redirect.op == "R":
                    if path not in self.fs.files:
                        await self.io.err(f"sh: can't open {target}: no such file\n")
                        return 1
                    data = self.fs.files[path]
                elif path in ("/dev/null",):
                    fds[redirect.fd] = ("null", "")
                elif path in ("/dev/stdout", "/dev/stderr"):
                    fds[redirect.fd] = fds[1 if path == "/dev/stdout" else 2]
                elif path in self.fs.dirs:
                    await self.io.err(f"sh: can't create {target}: Is a directory\n")
                    return 1
                else:
                    fds[redirect.fd] = ("file", path)
                    if redirect.op == "W":
                        truncate.add(path)
            for path in truncate:
                self.fs.write(path, "")
            pipe: list[str] = []

            def writer(where: tuple[str, str], pipe=pipe, last=last):
                async def write(text: str) -> None:
                    kind, path = where
                    if kind == "out":
                        if last:
                            await self.io.out(text)
                        else:
                            pipe.append(text)
                    elif kind == "err":
                        await self.io.err(text)
                    elif kind == "file":
                        self.fs.write(path, text, append=True)

                return write

            self._stderr = writer(fds[2])
            try:
                code = await self.command(argv, data, writer(fds[1]))
            finally:
                self._stderr = self.io.err
            data = "".join(pipe) if not last else None
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
        self,
        argv: list[str],
        stdin: str | None,
        out: Callable[[str], Awaitable[None]] | None = None,
    ) -> int:
        if not argv:
            return 0
        if "=" in argv[0] and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", argv[0]):
            name, _, value = argv[0].partition("=")
            self.env[name] = value
            return 0 if len(argv) == 1 else await self.command(argv[1:], stdin, out)
        out = out or self.io.out
        name = argv[0].rsplit("/", 1)[-1]
        handler = self.find_command(name)
        if handler is None:
            await self.err(f"sh: {argv[0]}: not found\n")
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
                    await self.err(f"{f}: No such file or directory\n")
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
                await out(to_text(chunk))
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
                await self.err(f"ls: cannot access '{p}': No such file or directory\n")
                code = 2
                continue
            if "a" in flags:
                names = [".", ".."] + names
            if "l" in flags:
                for n in names:
                    full = self._abs(f"{path}/{n}")
                    is_dir = full in self.fs.dirs or n in (".", "..")
                    size = len(to_bytes(self.fs.files.get(full, ""))) if not is_dir else 4096
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
            await self.err(
                f"sh: cd: can't cd to {args[0] if args else target}: No such file or directory\n"
            )
            return 2
        self.cwd = target
        return 0

    async def cmd_env(self, args, stdin, out) -> int:
        """``env`` prints the environment; ``env [-i] NAME=value… [command]`` runs a command
        with it changed (the session's own environment stays as it was)."""
        env = {} if args[:1] == ["-i"] else dict(self.env)
        args = args[1:] if args[:1] == ["-i"] else args
        while args and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", args[0]):
            name, _, value = args.pop(0).partition("=")
            env[name] = value
        if not args:
            await out("".join(f"{k}={v}\n" for k, v in sorted(env.items())))
            return 0
        saved, self.env = self.env, env
        try:
            return await self.command(args, stdin, out)
        finally:
            self.env = saved

    async def cmd_tty(self, args, stdin, out) -> int:
        if self.io.tty:
            await out("/dev/pts/0\n")
            return 0
        await out("not a tty\n")
        return 1

    async def cmd_tar(self, args, stdin, out) -> int:
        return await run_tar(self, args, stdin, out)

    async def _digest(self, algorithm: str, args, stdin, out) -> int:
        files = [a for a in args if not a.startswith("-")]
        code = 0
        for name in files or ["-"]:
            if name == "-":
                text = stdin if stdin is not None else await self.io.read_all()
            elif self._abs(name) in self.fs.files:
                text = self.fs.files[self._abs(name)]
            else:
                await self.err(f"{algorithm}sum: {name}: No such file or directory\n")
                code = 1
                continue
            await out(f"{hashlib.new(algorithm, to_bytes(text)).hexdigest()}  {name}\n")
        return code

    async def cmd_sha256sum(self, args, stdin, out) -> int:
        return await self._digest("sha256", args, stdin, out)

    async def cmd_md5sum(self, args, stdin, out) -> int:
        return await self._digest("md5", args, stdin, out)

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

    async def cmd_nsenter(self, args, stdin, out) -> int:
        """``nsenter -t 1 -m -u -i -n -p -- sh`` (``kubectl debug node/…``): the rest of the
        command runs in the node's namespaces — here, the same sandbox, named as the node.
        Only a privileged container of a hostPID pod may (anything else: EPERM, as the
        kernel answers setns without CAP_SYS_ADMIN)."""
        target, spaces, rest = None, [], list(args)
        short = {"m": "mnt", "u": "uts", "i": "ipc", "n": "net", "p": "pid", "U": "user"}
        while rest:
            word = rest.pop(0)
            if word == "--":
                break
            if word in ("-t", "--target"):
                target = rest.pop(0) if rest else None
            elif word.startswith("--target="):
                target = word.split("=", 1)[1]
            elif word.startswith("--") and word[2:].split("=")[0] in (
                "mount", "uts", "ipc", "net", "pid", "user"
            ):  # fmt: skip
                spaces.append({"mount": "mnt"}.get(word[2:].split("=")[0], word[2:]))
            elif word.startswith("-") and len(word) > 1 and all(c in short for c in word[1:]):
                spaces.extend(short[c] for c in word[1:])
            else:
                rest.insert(0, word)
                break
        if target is None:
            await self.err("nsenter: no target PID specified for --target\n")
            return 1
        if target != "1" and not (self.host and target.isdigit()):
            await self.err(f"nsenter: cannot open /proc/{target}/ns/{(spaces or ['mnt'])[0]}: "
                           "No such file or directory\n")  # fmt: skip
            return 1
        if self.host is None:
            space = (spaces or ["mnt"])[0]
            await self.err(
                f"nsenter: reassociate to namespace 'ns/{space}' failed: Operation not permitted\n"
            )
            return 1
        if "uts" in spaces:
            self.hostname = self.host.node
            self.env["HOSTNAME"] = self.host.node
        return await self.exec(rest or ["sh"])

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
            await self.err(f"sh: exit: Illegal number: {args[0]}\n")
            self.exited = 2
        return self.exited

    async def cmd_sleep(self, args, stdin, out) -> int:
        try:
            await asyncio.sleep(min(float(args[0]) if args else 0, 3600))
        except ValueError:
            await self.err(f"sleep: invalid number '{args[0]}'\n")
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
                await self.err(f"rm: can't remove '{a}': No such file or directory\n")
                code = 1
        return code

    async def cmd_grep(self, args, stdin, out) -> int:
        flags = "".join(a[1:] for a in args if a.startswith("-"))
        rest = [a for a in args if not a.startswith("-")]
        if not rest:
            await self.err("Usage: grep [-icv] PATTERN [FILE]...\n")
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
        counts = {"l": text.count("\n"), "w": len(text.split()), "c": len(to_bytes(text))}
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
            await self.run_script(args[1])
            return self.status
        return await self.interactive()

    cmd_bash = cmd_ash = cmd_sh
