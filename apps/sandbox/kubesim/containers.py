"""What a simulated container's main process does: how long it runs, its exit code, its output,
and how it answers SIGTERM — worked out by running the container's command and args through the
simulated shell (:mod:`.shell`) on a virtual clock.

* ``command``/``args`` as the container runtime joins them: ``command`` replaces the image's
  entrypoint; ``args`` alone run as the command (the images people use this way — busybox,
  alpine, debian… — have a shell or nothing as entrypoint, and ``kubectl run x --image=busybox
  -- sleep 3600`` puts ``sleep 3600`` in ``args``);
* no command and no args: the image's notional entrypoint, a server that runs until stopped and
  exits promptly on SIGTERM;
* ``sleep N`` advances the virtual clock by N seconds (``infinity`` never returns), ``exit N``
  and the last command's status give the exit code, ``echo``… output becomes the log;
* a program the simulated shell does not know (``nginx``, ``python app.py``, ``/app/server``,
  ``while`` loops) is taken for the image's application: it runs until stopped, and exits
  promptly on SIGTERM — or, in a pod whose ``restartPolicy`` is Never or OnFailure (a Job's), it
  is a task that finishes with exit 0 shortly after it starts;
* a shell script's PID 1 (``sleep``, ``sh -c …``) ignores SIGTERM, as real ones do: deleting the
  pod waits out the whole grace period before the kill (exit 137).

Annotations ``kubesim.io/run-seconds`` / ``kubesim.io/exit-code`` still override the outcome,
and images named ``*crashloop*`` exit 1 at once (the demo's crash loop).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from .containerfs import SKELETON_DIRS, FileSystem, container_env
from .shell import Shell, ShellIO

RUN_SECONDS = "kubesim.io/run-seconds"
EXIT_CODE = "kubesim.io/exit-code"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_MAX_STEPS = 10_000
TASK_SECONDS = 0.2  # how long an application run as a task (restartPolicy Never/OnFailure) takes
_MAX_SECONDS = 10 * 365 * 86400.0


@dataclass
class Plan:
    """The outcome of one run of a container's main process, in simulated seconds."""

    seconds: float | None  # None: runs until stopped
    exit_code: int = 0
    output: list[str] = field(default_factory=list)
    # Seconds to exit after SIGTERM; None: ignores it (killed when the grace period ends).
    on_sigterm: float | None = 0.1
    script: bool = False  # a shell-interpreted command (no application log lines)


class _Forever(Exception):
    """The process blocks until it is stopped."""


class _Program(Exception):
    """A program the simulated shell does not know: the image's application."""


class _Runner(Shell):
    """The simulated shell on a virtual clock: ``sleep`` adds time instead of waiting."""

    elapsed = 0.0
    steps = 0

    async def command(
        self,
        argv: list[str],
        stdin: str | None,
        out: Callable[[str], Awaitable[None]] | None = None,
    ) -> int:
        self.steps += 1
        if self.steps > _MAX_STEPS or self.elapsed > _MAX_SECONDS:
            raise _Forever  # a script that keeps going is a process that keeps running
        if argv and not re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", argv[0]):
            name = argv[0].rsplit("/", 1)[-1]
            if self.find_command(name) is None:
                raise _Program
        return await super().command(argv, stdin, out)

    async def cmd_sleep(self, args, stdin, out) -> int:  # type: ignore[no-untyped-def]
        total = 0.0
        for arg in args:
            if arg in ("inf", "infinity"):
                raise _Forever
            match = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd]?)", arg)
            if match is None:
                await self.io.err(f"sleep: invalid number '{arg}'\n")
                return 1
            total += float(match.group(1)) * _UNITS[match.group(2) or "s"]
        self.elapsed += total
        return 0

    async def cmd_exec(self, args, stdin, out) -> int:  # type: ignore[no-untyped-def]
        code = await self.command(args, stdin, out)
        self.exited = code
        return code

    async def cmd_tail(self, args, stdin, out) -> int:  # type: ignore[no-untyped-def]
        if any(a in ("-f", "-F", "--follow") for a in args):
            raise _Forever
        return await super().cmd_tail(args, stdin, out)


def argv_of(container: dict[str, Any]) -> list[str]:
    return [str(x) for x in (container.get("command") or [])] + [
        str(x) for x in (container.get("args") or [])
    ]


def plan(cluster: Any, pod: dict[str, Any], container: dict[str, Any]) -> Plan:
    """Run ``container``'s command on the virtual clock and report what it does."""
    annotations = pod["metadata"].get("annotations") or {}
    if "crashloop" in container.get("image", ""):
        return Plan(0.0, 1, ["panic: simulated crash (image name contains 'crashloop')"])
    if RUN_SECONDS in annotations or EXIT_CODE in annotations:
        try:
            seconds = float(annotations.get(RUN_SECONDS, "0.2"))
            code = int(annotations.get(EXIT_CODE, "0"))
        except ValueError:
            seconds, code = 0.2, 1
        code = code % 256
        return Plan(seconds, code, ["done" if code == 0 else f"exit status {code}"])
    argv = argv_of(container)
    if not argv:
        return Plan(None)
    chunks: list[str] = []

    async def write(data: bytes) -> None:
        chunks.append(data.decode(errors="replace"))

    runner = _Runner(
        FileSystem(),
        container_env(cluster, pod, container),
        ShellIO(None, write, write, tty=False),
        pod["metadata"]["name"],
        container.get("image", ""),
    )
    for d in SKELETON_DIRS:
        runner.fs.mkdir(d)
    seconds: float | None
    coro = runner.exec(argv)
    try:
        # Nothing in the runner waits on real I/O (no stdin, virtual sleep): drive it to the end
        # here. Anything that does suspend is treated as a process that keeps running.
        coro.send(None)
    except StopIteration as done:
        code, seconds = int(done.value or 0) % 256, runner.elapsed
    except _Forever:
        code, seconds = 0, None
    except _Program:
        lines = "".join(chunks).splitlines()
        if (pod.get("spec") or {}).get("restartPolicy") in ("Never", "OnFailure"):
            # A run-to-completion pod's application is a task (a migration, a batch step):
            # it does its work and exits 0.
            return Plan(runner.elapsed + TASK_SECONDS, 0, lines)
        return Plan(None, 0, lines)
    else:
        coro.close()
        code, seconds = 0, None
    lines = "".join(chunks).splitlines()
    return Plan(seconds, code, lines, on_sigterm=None, script=True)
