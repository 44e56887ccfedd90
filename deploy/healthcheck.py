#!/usr/bin/env python3
"""Container health check: GET /healthz as a TLS-terminating proxy would forward it.

Production settings reject Host headers outside ALLOWED_HOSTS and redirect plain HTTP, so the
probe names the first allowed host and says the original scheme was https. Exit 0 when the
portal answers 200 (every component ok), 1 otherwise. Standard library only.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request


def probe_host() -> str:
    hosts = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "").split(",") if h.strip()]
    host = hosts[0].lstrip(".") if hosts else "localhost"
    return "localhost" if host in ("", "*") else host


def main() -> int:
    request = urllib.request.Request(
        "http://127.0.0.1:8000/healthz",
        headers={"Host": probe_host(), "X-Forwarded-Proto": "https"},
    )
    try:
        with urllib.request.urlopen(request, timeout=8) as response:  # noqa: S310 (fixed URL)
            return 0 if response.status == 200 else 1
    except urllib.error.HTTPError as exc:
        print(f"healthz answered {exc.code}: {exc.read()[:500]!r}", file=sys.stderr)
    except OSError as exc:
        print(f"healthz unreachable: {exc}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
