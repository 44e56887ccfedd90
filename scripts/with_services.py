#!/usr/bin/env python3
"""Run a command with PostgreSQL and Redis reachable, then clean up.

Order of preference for each service:
1. what ``DATABASE_URL`` / ``REDIS_URL`` name;
2. a server already listening on the standard loopback port (5432 / 6379);
3. a throwaway server started here on a free loopback port (installing the Debian package
   first when running as root), stopped and deleted when the command ends.

Set ``PORTAL_THROWAWAY_SERVICES=1`` to skip step 2 (always start private servers).

Usage: scripts/with_services.py -- <command> [args…]
Standard library only: it runs before the virtualenv matters.
"""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

THROWAWAY = os.environ.get("PORTAL_THROWAWAY_SERVICES") == "1"
STARTED: list[subprocess.Popen] = []
CLEANUP: list[str] = []


def log(message: str) -> None:
    print(f"[services] {message}", file=sys.stderr, flush=True)


def listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(port: int, what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if listening("127.0.0.1", port):
            return
        time.sleep(0.2)
    sys.exit(f"[services] {what} did not start listening on 127.0.0.1:{port} in {seconds:g}s")


def apt_install(package: str) -> None:
    if os.geteuid() != 0:
        sys.exit(
            f"[services] {package} is not installed and this is not root: "
            f"install it (apt-get install {package}) or set the URL variable."
        )
    log(f"installing {package} from Debian")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", package],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )


def postgres_bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


def ensure_postgres() -> str:
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    if not THROWAWAY and listening("127.0.0.1", 5432):
        log("using PostgreSQL on 127.0.0.1:5432")
        return "postgres://postgres@127.0.0.1:5432/tkeportal"
    if not postgres_bin("initdb"):
        apt_install("postgresql")
    initdb = postgres_bin("initdb")
    data = tempfile.mkdtemp(prefix="tkeportal-pg-")
    CLEANUP.append(data)
    port = free_port()
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        shutil.chown(data, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    log(f"starting a throwaway PostgreSQL on 127.0.0.1:{port}")
    subprocess.run(
        [*as_user, initdb, "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    proc = subprocess.Popen(
        [
            *as_user,
            postgres_bin("postgres"),
            "-D",
            data,
            "-p",
            str(port),
            "-h",
            "127.0.0.1",
            "-k",
            data,
            "-c",
            "fsync=off",
            "-c",
            "full_page_writes=off",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    STARTED.append(proc)
    wait_for(port, "PostgreSQL")
    return f"postgres://postgres@127.0.0.1:{port}/postgres"


def ensure_redis() -> str:
    if os.environ.get("REDIS_URL"):
        return os.environ["REDIS_URL"]
    if not THROWAWAY and listening("127.0.0.1", 6379):
        log("using Redis on 127.0.0.1:6379")
        return "redis://127.0.0.1:6379/1"
    if not shutil.which("redis-server"):
        apt_install("redis-server")
    port = free_port()
    log(f"starting a throwaway Redis on 127.0.0.1:{port}")
    proc = subprocess.Popen(
        [
            "redis-server",
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    STARTED.append(proc)
    wait_for(port, "Redis")
    return f"redis://127.0.0.1:{port}/1"


def cleanup() -> None:
    for proc in reversed(STARTED):
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    for path in CLEANUP:
        shutil.rmtree(path, ignore_errors=True)


def main(argv: list[str]) -> int:
    if "--" not in argv or argv.index("--") == len(argv) - 1:
        sys.exit("usage: with_services.py -- <command> [args…]")
    command = argv[argv.index("--") + 1 :]
    atexit.register(cleanup)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    env = dict(os.environ, DATABASE_URL=ensure_postgres(), REDIS_URL=ensure_redis())
    return subprocess.call(command, env=env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
