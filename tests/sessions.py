"""Helpers for session tests (port-forward, cp): shared by the kubesim suite and the portal's."""

from __future__ import annotations

import re
import subprocess
import time
from contextlib import contextmanager

_FORWARDING = re.compile(rb"Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)")


@contextmanager
def port_forward(popen, *args: str, expect: int = 1, timeout: float = 15):
    """Run ``kubectl port-forward <args>`` (``popen`` starts kubectl with its own config) and
    yield ``{remote port: local port}`` once it listens; stop it afterwards. The process is
    yielded too (``.forwarded`` is the mapping) so a test can read what kubectl printed."""
    proc = popen("port-forward", *args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seen = b""
    deadline = time.monotonic() + timeout
    try:
        while len(_FORWARDING.findall(seen)) < expect:
            if time.monotonic() > deadline or proc.poll() is not None:
                err = proc.stderr.read() if proc.poll() is not None else b""
                raise AssertionError(f"kubectl port-forward did not listen: {seen!r} {err!r}")
            seen += proc.stdout.readline()
        proc.forwarded = {int(r): int(local) for local, r in _FORWARDING.findall(seen)}
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
        proc.wait(10)


def curl(port: int, path: str = "/") -> subprocess.CompletedProcess[str]:
    """The real curl against a forwarded local port (headers included: ``-i``)."""
    return subprocess.run(
        ["curl", "-sS", "-i", "-m", "10", f"http://127.0.0.1:{port}{path}"],
        capture_output=True,
        text=True,
        timeout=20,
    )
