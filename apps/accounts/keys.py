"""API key format and hashing.

A key is ``tkp_<prefix>_<secret>``: the prefix (12 hex chars) finds the row by index, the
secret (43 url-safe chars, 256 bits) is checked against a SHA-256 digest with a constant-time
comparison. A slow hash is unnecessary for 256-bit random secrets and would make every API
request pay for it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

KEY_PREFIX = "tkp_"


def generate() -> tuple[str, str, str]:
    """Return (plaintext, prefix, digest) for a new key."""
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    plaintext = f"{KEY_PREFIX}{prefix}_{secret}"
    return plaintext, prefix, digest_of(plaintext)


def digest_of(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def split(plaintext: str) -> str | None:
    """The prefix of a well-formed key, else None."""
    if not plaintext.startswith(KEY_PREFIX):
        return None
    prefix, sep, secret = plaintext[len(KEY_PREFIX) :].partition("_")
    if not sep or len(prefix) != 12 or not secret:
        return None
    return prefix


def matches(plaintext: str, digest: str) -> bool:
    return hmac.compare_digest(digest_of(plaintext), digest)
