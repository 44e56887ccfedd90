"""One canonical rendering of a proxied request: the string the portal judges is the string
the cluster receives.

A proxy that authorizes one reading of a URL and forwards another can be walked around:
``…/version/../api/v1/secrets`` judged as discovery but served as a Secret list, an encoded
``/`` in a segment (``cls-a%2Fversion``) moving the boundary between cluster name and path,
``?fieldSelector=&fieldSelector=metadata.name=x`` narrowed by the proxy to one object while the
API server (which reads the *first* value) lists them all. So the proxy never forwards what the
client sent; it parses the raw request once, refuses what has no single meaning, and rebuilds
the URL from the parsed parts:

- path segments are percent-decoded one at a time; a segment that decodes to ``.``/``..``, or
  contains ``/``, ``\\``, ``%`` or a control character, or is empty (``//``) is refused — the
  Kubernetes API server itself refuses such names (``ValidatePathSegmentName``), so nothing a
  real client sends is lost; one trailing ``/`` is kept (discovery clients send it);
- the query is split on ``&`` and decoded like Go's ``url.ParseQuery`` (``+`` is a space); a
  ``;`` or an invalid ``%`` escape is refused (Go would silently drop that pair, Python would
  keep it); a parameter given twice is refused unless Kubernetes reads it as a list
  (``command`` of exec, ``ports`` of port-forward); boolean parameters the portal's mapping
  reads (``watch``, ``follow``) are rewritten to ``true``/``false`` with the API server's own
  rule (absent, ``0`` and ``false`` in any case are false; anything else, even empty, is true);
- the forwarded URL is re-encoded from the decoded parts and handed to aiohttp as already
  encoded, so yarl does not normalise it a second time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, unquote_to_bytes

from .status import Denial

PREFIX = "/k8s/clusters/"
# Cluster names are generated (cls-xxxxxxxx); anything else in that segment is not a name.
_CLUSTER_NAME = re.compile(r"^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Characters left unescaped in a forwarded path segment (RFC 3986 pchar minus "%").
_PATH_SAFE = "-._~!$&'()*+,;=:@"
# Parameters Kubernetes reads as lists: repeating them is meaningful, not ambiguous.
LIST_PARAMETERS = frozenset({"command", "ports"})
# Booleans the portal's mapping reads; forwarded in canonical form.
BOOLEAN_PARAMETERS = frozenset({"watch", "follow"})
MAX_QUERY_PARAMETERS = 64


@dataclass(frozen=True)
class CanonicalRequest:
    """The parts of a proxied request as judged and as forwarded (they are the same)."""

    cluster_name: str
    segments: tuple[str, ...]  # decoded path segments under the cluster
    trailing_slash: bool
    query: tuple[tuple[str, str], ...]  # decoded (key, value) pairs, in order

    @property
    def path(self) -> str:
        """The decoded cluster-relative path, as the mapping reads it."""
        path = "/" + "/".join(self.segments)
        return path + "/" if self.trailing_slash and self.segments else path

    @property
    def encoded_path(self) -> str:
        """The same path percent-encoded, as the cluster receives it."""
        path = "/" + "/".join(quote(s, safe=_PATH_SAFE) for s in self.segments)
        return path + "/" if self.trailing_slash and self.segments else path

    @property
    def query_dict(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for key, value in self.query:
            out.setdefault(key, []).append(value)
        return out

    @property
    def encoded_query(self) -> str:
        return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in self.query)

    @property
    def target(self) -> str:
        """Path and query relative to the cluster's server URL."""
        query = self.encoded_query
        return f"{self.encoded_path}?{query}" if query else self.encoded_path

    @property
    def full_path(self) -> str:
        """The portal-side path (for the audit trail): what was judged."""
        return f"{PREFIX}{self.cluster_name}{self.target}"


def bad_request(message: str) -> Denial:
    return Denial(400, message)


def _decode_segment(raw: str) -> str:
    if _BAD_ESCAPE.search(raw):
        raise bad_request(f"invalid percent-encoding in path segment {raw[:80]!r}")
    try:
        decoded = unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise bad_request(f"path segment {raw[:80]!r} is not UTF-8") from None
    if decoded in (".", ".."):
        raise bad_request("dot segments ('.' and '..') are not allowed in the path")
    if "*" in decoded:
        raise bad_request("'*' is the policies' wildcard and part of no Kubernetes name")
    if "/" in decoded or "\\" in decoded or "%" in decoded or _CONTROL.search(decoded):
        raise bad_request(
            f"path segment {raw[:80]!r} contains an encoded separator, '%' or a control "
            "character; Kubernetes names never do"
        )
    return decoded


def _decode_query_part(raw: str) -> str:
    if _BAD_ESCAPE.search(raw):
        raise bad_request(f"invalid percent-encoding in query {raw[:80]!r}")
    try:
        return unquote_to_bytes(raw.replace("+", " ")).decode("utf-8")
    except UnicodeDecodeError:
        raise bad_request(f"query parameter {raw[:80]!r} is not UTF-8") from None


def parse_query(raw: str) -> tuple[tuple[str, str], ...]:
    if not raw:
        return ()
    if ";" in raw:
        raise bad_request("';' is not a query separator; use '&'")
    pairs: list[tuple[str, str]] = []
    seen: set[str] = set()
    for part in raw.split("&"):
        if not part:
            continue
        raw_key, _, raw_value = part.partition("=")
        key, value = _decode_query_part(raw_key), _decode_query_part(raw_value)
        if _CONTROL.search(key):
            raise bad_request(f"query parameter name {key[:80]!r} has a control character")
        if key in seen and key not in LIST_PARAMETERS:
            raise bad_request(
                f"query parameter {key!r} is given more than once; Kubernetes would read only "
                "the first, so the portal refuses to guess"
            )
        seen.add(key)
        if key in BOOLEAN_PARAMETERS:
            value = "false" if value == "0" or value.lower() == "false" else "true"
        pairs.append((key, value))
        if len(pairs) > MAX_QUERY_PARAMETERS:
            raise bad_request(f"more than {MAX_QUERY_PARAMETERS} query parameters")
    return tuple(pairs)


def canonicalize(raw_path: str, raw_query: str) -> CanonicalRequest:
    """Parse ``/k8s/clusters/<name>/<rest>?<query>`` as sent (still percent-encoded).
    Raises :class:`Denial` (400) for anything without a single meaning."""
    if not raw_path.startswith(PREFIX):
        raise bad_request("not a cluster proxy path")
    name, slash, rest = raw_path[len(PREFIX) :].partition("/")
    if not _CLUSTER_NAME.match(name):
        raise bad_request(f"{name[:80]!r} is not a cluster name")
    raw_segments = rest.split("/") if slash else []
    trailing = len(raw_segments) > 1 and raw_segments[-1] == ""
    if trailing:
        raw_segments = raw_segments[:-1]
    if raw_segments == [""]:  # "/k8s/clusters/<name>/"
        raw_segments = []
    if "" in raw_segments:
        raise bad_request("empty path segments ('//') are not allowed")
    segments = tuple(_decode_segment(s) for s in raw_segments)
    return CanonicalRequest(name, segments, trailing, parse_query(raw_query))
