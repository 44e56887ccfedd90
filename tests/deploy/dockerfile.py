"""A reader of deploy/Dockerfile and its .dockerignore, and a runner of its build steps on this
machine, for tests/deploy/test_dockerfile.py (no Docker engine runs here).

What is read as Docker does: line continuations, comments and parser directives, ``ARG`` before
``FROM``, ``ENV`` (``k=v`` pairs, quotes, ``$VAR`` / ``${VAR}`` expanded from what is set so
far), ``WORKDIR``, ``COPY`` (sources, the destination, ``.dockerignore`` exclusions with ``**``
and ``!`` exceptions, the last matching pattern winning), ``RUN`` in shell form (``/bin/sh -c``).

What is mapped: the image's file system is a directory (``rootfs``); the image's virtualenv
(``VIRTUAL_ENV``) is this test run's virtualenv, installed from the same lock file. Container
paths in commands and ``ENV`` values are rewritten to those two places.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

# The environment the python:3.11-slim images set (the Dockerfile's ENV builds on it).
BASE_IMAGE_PATH = "/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin"
BASE_IMAGE_ENV = {"PATH": BASE_IMAGE_PATH, "LANG": "C.UTF-8"}


@dataclass
class Instruction:
    keyword: str
    arguments: str
    line: int


@dataclass
class Step:
    """A RUN step with the ENV and WORKDIR in force when it runs."""

    command: str
    env: dict[str, str]
    workdir: str
    line: int


@dataclass
class Copy:
    sources: list[str]
    destination: str
    workdir: str
    line: int


@dataclass
class Dockerfile:
    instructions: list[Instruction]
    args: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    steps: list[Step | Copy] = field(default_factory=list)
    base_image: str = ""

    def instruction(self, keyword: str) -> Instruction:
        (found,) = [i for i in self.instructions if i.keyword == keyword]
        return found


def logical_lines(text: str) -> list[tuple[int, str]]:
    """(first line number, instruction text) with continuations joined and comments dropped.
    Comment lines inside a continued instruction are dropped too, as Docker does."""
    out: list[tuple[int, str]] = []
    current: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and not current):
            continue
        if not current:
            start = number
        if stripped.endswith("\\"):
            current.append(stripped[:-1].strip())
            continue
        current.append(stripped)
        out.append((start, " ".join(part for part in current if part)))
        current = []
    if current:
        raise ValueError(f"line {start}: the file ends inside a continued instruction")
    return out


_VAR = re.compile(r"\$(?:\{(\w+)(?::-([^}]*))?\}|(\w+))")


def expand(value: str, env: dict[str, str]) -> str:
    def one(match: re.Match) -> str:
        name = match.group(1) or match.group(3)
        default = match.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        return ""

    return _VAR.sub(one, value)


def parse_env(arguments: str, env: dict[str, str]) -> dict[str, str]:
    """``ENV a=1 b="two words"`` → {"a": "1", "b": "two words"}, expanded against ``env``
    (every right-hand side sees the values from before this instruction, as Docker does)."""
    pairs: dict[str, str] = {}
    for token in shlex.split(arguments, posix=True):
        if "=" not in token:
            raise ValueError(f"ENV {arguments!r}: only the key=value form is read here")
        key, value = token.split("=", 1)
        pairs[key] = expand(value, env)
    return pairs


def parse(text: str) -> Dockerfile:
    instructions = [
        Instruction(line.split(None, 1)[0].upper(), (line.split(None, 1) + [""])[1], number)
        for number, line in logical_lines(text)
    ]
    result = Dockerfile(instructions)
    env: dict[str, str] = {}
    workdir = "/"
    seen_from = False
    for ins in instructions:
        if ins.keyword == "ARG":
            name, _, default = ins.arguments.partition("=")
            result.args[name.strip()] = default.strip()
        elif ins.keyword == "FROM":
            if seen_from:
                raise ValueError(f"line {ins.line}: multi-stage builds are not read here")
            seen_from = True
            result.base_image = expand(ins.arguments, result.args)
        elif ins.keyword == "ENV":
            env = {**env, **parse_env(ins.arguments, {**BASE_IMAGE_ENV, **env})}
        elif ins.keyword == "WORKDIR":
            workdir = os.path.join(workdir, expand(ins.arguments, env))
        elif ins.keyword == "COPY":
            words = [w for w in shlex.split(ins.arguments) if not w.startswith("--")]
            if any(w.startswith("--") for w in shlex.split(ins.arguments)):
                raise ValueError(f"line {ins.line}: COPY flags are not read here")
            result.steps.append(Copy(words[:-1], words[-1], workdir, ins.line))
        elif ins.keyword == "RUN":
            if ins.arguments.startswith("["):
                raise ValueError(f"line {ins.line}: exec-form RUN is not read here")
            result.steps.append(Step(ins.arguments, dict(env), workdir, ins.line))
    result.env = env
    return result


# -- .dockerignore ------------------------------------------------------------------------------
def _pattern_regex(pattern: str) -> re.Pattern:
    """Docker's pattern matcher: filepath.Match per segment, ``**`` any number of segments."""
    parts = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**", i):
            i += 2
            if pattern.startswith("/", i):
                i += 1
                parts.append("(?:.*/)?")
            else:
                parts.append(".*")
            continue
        if char == "*":
            parts.append("[^/]*")
        elif char == "?":
            parts.append("[^/]")
        else:
            parts.append(re.escape(char))
        i += 1
    return re.compile("".join(parts) + r"\Z")


@dataclass
class DockerIgnore:
    rules: list[tuple[bool, re.Pattern]]  # (is an exception "!", pattern)
    exceptions: list[str]  # the "!" patterns as written (normalised)

    @classmethod
    def parse(cls, text: str) -> DockerIgnore:
        rules = []
        exceptions = []
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            negate = line.startswith("!")
            pattern = os.path.normpath(line.lstrip("!").strip()).lstrip("/")
            rules.append((negate, _pattern_regex(pattern)))
            if negate:
                exceptions.append(pattern)
        return cls(rules, exceptions)

    def excluded(self, relative: str) -> bool:
        """Whether ``relative`` (a path in the context) is left out: the last rule matching it
        or one of its parent directories decides."""
        parents = Path(relative).parts
        candidates = ["/".join(parents[: n + 1]) for n in range(len(parents))]
        verdict = False
        for negate, regex in self.rules:
            if any(regex.match(candidate) for candidate in candidates):
                verdict = not negate
        return verdict


def copy_context(context: Path, ignore: DockerIgnore, destination: Path) -> list[str]:
    """Copy the build context as the daemon receives it; the relative paths sent."""
    sent: list[str] = []
    for directory, dirnames, filenames in os.walk(context):
        rel_dir = os.path.relpath(directory, context)
        kept = []
        for name in sorted(dirnames):
            rel = os.path.normpath(os.path.join(rel_dir, name))
            # An excluded directory is not walked unless an exception may re-include something
            # under it (a "!" pattern below it, or one starting with a wildcard).
            if ignore.excluded(rel) and not any(
                e.startswith(rel + "/") or e.startswith("*") for e in ignore.exceptions
            ):
                continue
            if os.path.islink(os.path.join(directory, name)):
                if not ignore.excluded(rel):
                    raise ValueError(f"{rel}: a symbolic link to a directory is in the context")
                continue
            kept.append(name)
        dirnames[:] = kept
        for name in sorted(filenames):
            rel = os.path.normpath(os.path.join(rel_dir, name))
            if ignore.excluded(rel):
                continue
            target = destination / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(os.path.join(directory, name), target)
            sent.append(rel)
    return sent


# -- running steps ------------------------------------------------------------------------------
@dataclass
class Image:
    """The image's file system as a directory, and the virtualenv standing in for its own."""

    rootfs: Path
    venv: Path
    virtual_env: str  # the image's VIRTUAL_ENV, e.g. /opt/venv

    def host_path(self, container_path: str) -> str:
        if container_path == self.virtual_env or container_path.startswith(self.virtual_env + "/"):
            return str(self.venv) + container_path[len(self.virtual_env) :]
        return str(self.rootfs) + container_path

    def rewrite(self, text: str) -> str:
        """Container absolute paths in a command or ENV value → paths on this machine. Only
        paths under the virtualenv or a directory that exists in the rootfs are rewritten
        (/bin/sh, /usr/bin stay the machine's own)."""
        roots = sorted(
            {self.virtual_env, *(f"/{p.name}" for p in self.rootfs.iterdir())},
            key=len,
            reverse=True,
        )
        pattern = re.compile(
            r"(?<![\w./$-])(" + "|".join(re.escape(r) for r in roots) + r")(?=[/\s:;\"']|\Z)"
        )
        return pattern.sub(lambda m: self.host_path(m.group(1)), text)

    def run(self, step: Step, home: Path, timeout: float = 300) -> subprocess.CompletedProcess:
        env = {k: self.rewrite(v) for k, v in {**BASE_IMAGE_ENV, **step.env}.items()}
        env["HOME"] = str(home)
        return subprocess.run(  # noqa: S603 (the Dockerfile's own command, as the image runs it)
            ["/bin/sh", "-c", self.rewrite(step.command)],
            cwd=self.host_path(step.workdir),
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def copy(self, step: Copy, context: Path, ignore: DockerIgnore) -> list[str]:
        """COPY from the context (with its .dockerignore) into the rootfs; what was sent."""
        destination = os.path.join(step.workdir, step.destination)
        target = Path(self.host_path(destination))
        sent: list[str] = []
        for source in step.sources:
            if os.path.normpath(source) == ".":
                sent += copy_context(context, ignore, target)
                continue
            rel = os.path.normpath(source)
            if ignore.excluded(rel) or not (context / rel).is_file():
                raise FileNotFoundError(f"line {step.line}: {source} is not in the build context")
            into = target / Path(rel).name if step.destination.endswith("/") else target
            into.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(context / rel, into)
            sent.append(rel)
        return sent
