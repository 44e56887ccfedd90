"""Driving an interactive program (``kubectl exec -it``) through a pseudo-terminal."""

from __future__ import annotations

import os
import selectors
import subprocess
import time


class PtySession:
    """Start ``argv`` on a new pty; read its output until markers appear, type into it."""

    def __init__(self, argv: list[str], env: dict | None = None):
        self.master, slave = os.openpty()
        self.proc = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True
        )
        os.close(slave)
        self.output = b""

    def read_until(self, marker: bytes, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        # a selector, not select(): late in a long run descriptors are numbered above 1024
        with selectors.DefaultSelector() as selector:
            selector.register(self.master, selectors.EVENT_READ)
            while marker not in self.output and time.monotonic() < deadline:
                if selector.select(0.2):
                    try:
                        self.output += os.read(self.master, 4096)
                    except OSError:  # the program closed the terminal
                        return

    def type(self, text: bytes) -> None:
        os.write(self.master, text)

    def finish(self, timeout: float = 15) -> int:
        """Wait for the program, collect what is left of its output, close the terminal."""
        code = self.proc.wait(timeout=timeout)
        self.read_until(b"\0never\0", timeout=0.3)
        os.close(self.master)
        return code
