"""Requests across namespaces for users who may act in some namespaces only (project members).

``kubectl get pods -A`` asks for every namespace; a member of a project may list only its
namespaces (:func:`apps.projects.access.reach`). Rather than refuse (Rancher's answer), the
proxy answers from the namespaces the user may list, exactly those:

**Lists** are merged from one list per namespace, in namespace order. The first namespace is
listed as the client asked (its ``resourceVersion``/``resourceVersionMatch``) and answers at
some resourceVersion R; every other namespace is listed with ``resourceVersion=R`` and
``resourceVersionMatch=Exact``, so the merged list is one consistent snapshot at R, and says
R. With ``limit``, a page holds at most ``limit`` objects across namespaces and ends with the
proxy's own ``continue`` token (signed; it carries R, the namespace to go on with and that
namespace's own continue token), which kubectl ``--chunk-size`` and client-go's pager follow to
the end with no duplicates and no gaps; a token that was altered or is garbage is 400, as the
API server answers, and one whose snapshot was compacted is the cluster's 410. Label and field
selectors go to every namespace's list. JSON and Table (``as=Table;g=meta.k8s.io;v=v1``, what
kubectl asks for: rows merged, the first answer's ``columnDefinitions`` kept) are merged; a
client that accepts only YAML or protobuf gets JSON, labelled so (as the Secret masking does,
:mod:`.masking`). Secrets are masked in the namespaces where the user may not revealSecret.

**Watches** open one upstream watch per namespace and merge the events into one stream, line by
line, through a bounded queue (memory stays bounded; a slow client slows the upstreams). A
namespace's stream that breaks (connection dropped, or ended early) is re-opened from the last
resourceVersion it delivered, with bounded retries and back-off, while the others keep
delivering; when it cannot be resumed (410, or retries exhausted) the merged watch ends the way
the API server ends a watch that cannot go on — an ``ERROR`` event with a 410 Expired Status —
so clients relist. Closing the client closes every upstream.

Ordering across namespaces: each namespace's events arrive in their exact order; events of
different namespaces are interleaved as they arrive, not sorted by resourceVersion. So the
resourceVersion of the last event a client received is a safe resume point for *that*
namespace only: resuming the merged watch from it can miss an event of another namespace that
had a lower resourceVersion and was still in flight. A client that resumes should use the rv of
a merged ``BOOKMARK`` (the proxy sends one only once every namespace has reached it, so
resuming from it may repeat events but never skips any) or relist, which is what kubectl and
client-go's reflector do after the 410 above.

``kubectl get ns`` (a list or watch of Namespaces) is filtered to the namespaces the user may
list: one upstream request, the other namespaces' items, rows and events dropped.

The fan-out is one request for the audit trail: one row naming the action and resource the
user asked for; the upstream requests are not audited one by one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field

import aiohttp
from django.core import signing
from multidict import CIMultiDict
from yarl import URL

from apps.clusters.masking import mask_secrets

from .canonical import CanonicalRequest
from .masking import prepare_headers
from .status import Denial, status_body
from .upstream import connection_error, response_headers

# Namespaces listed at once after the first (which gives the snapshot's resourceVersion).
PARALLEL = 8
# Bytes of upstream answers one merged list may hold (the API server's own limit for one
# object is 3 MiB; a list is bounded by ``limit``, which kubectl always sends).
MAX_MERGED_BODY = 64 * 1024 * 1024
# One watch event (a line); a longer line ends that namespace's stream as broken.
MAX_EVENT = 16 * 1024 * 1024
# Events waiting for the client across all namespaces of one merged watch.
QUEUE_EVENTS = 256
# Re-opening a broken namespace watch: attempts in a row, and back-off between them.
WATCH_RETRIES = 5
BACKOFF_S = (0.1, 0.3, 1.0, 2.0, 4.0)
CONTINUE_FORMAT = "portal.tkestack.io/v1"
_SALT = "apps.clusters.proxy.fanout.continue"
# Query parameters the proxy sets itself on each namespace's request.
_LIST_OWN = frozenset({"continue", "limit", "resourceVersion", "resourceVersionMatch", "watch"})
_WATCH_OWN = frozenset(
    {"resourceVersion", "resourceVersionMatch", "sendInitialEvents", "allowWatchBookmarks",
     "timeoutSeconds", "continue", "limit"}
)  # fmt: skip
INITIAL_EVENTS_END = "k8s.io/initial-events-end"


@dataclass(frozen=True)
class Spread:
    """What the proxy does instead of forwarding a request across namespaces: ``merge`` the
    per-namespace answers of ``namespaces``, or ``filter`` the answer (Namespaces) to them.
    ``reveal``: namespaces whose Secrets are shown unmasked."""

    mode: str  # "merge" | "filter"
    namespaces: tuple[str, ...]
    reveal: frozenset[str] = field(default_factory=frozenset)
    secrets: bool = False


@dataclass
class Upstream:
    """How to reach the cluster for the per-namespace requests of one client request."""

    session: aiohttp.ClientSession
    conn: object
    ssl: object
    headers: CIMultiDict
    connect_s: float
    read_s: float


@dataclass
class Answer:
    status: int
    content_type: str = ""
    doc: dict | None = None
    raw: bytes = b""
    message: str = ""


# -- tokens ------------------------------------------------------------------------------------
def encode_token(scope: str, rv: str, namespace: str, upstream: str) -> str:
    """The proxy's continue token: versioned, signed, bound to ``scope`` (cluster and path)."""
    payload = {"v": CONTINUE_FORMAT, "rv": rv, "ns": namespace, "c": upstream}
    return signing.dumps(payload, salt=f"{_SALT}:{scope}", compress=True)


def decode_token(scope: str, token: str) -> tuple[str, str, str]:
    """(rv, namespace, upstream token); a token the proxy did not issue for this list is 400."""
    try:
        payload = signing.loads(token, salt=f"{_SALT}:{scope}")
    except signing.BadSignature:
        raise Denial(
            400, "continue key is not valid: not issued by the portal for this list"
        ) from None
    if not isinstance(payload, dict) or payload.get("v") != CONTINUE_FORMAT:
        raise Denial(400, "continue key is not valid: unknown version")
    rv, namespace, upstream = payload.get("rv"), payload.get("ns"), payload.get("c")
    if not all(isinstance(v, str) for v in (rv, namespace, upstream)):
        raise Denial(400, "continue key is not valid: malformed")
    return rv, namespace, upstream


# -- requests ----------------------------------------------------------------------------------
def namespaced(canonical: CanonicalRequest, namespace: str, query) -> CanonicalRequest:
    """``/api/v1/pods`` → ``/api/v1/namespaces/<ns>/pods`` (and the legacy ``/watch/`` form),
    with ``query``."""
    segments = list(canonical.segments)
    at = 2 if segments[0] == "api" else 3
    if segments[at] == "watch":
        at += 1
    segments[at:at] = ["namespaces", namespace]
    return CanonicalRequest(
        canonical.cluster_name, tuple(segments), canonical.trailing_slash, tuple(query)
    )


def with_query(canonical: CanonicalRequest, query) -> CanonicalRequest:
    return CanonicalRequest(
        canonical.cluster_name, canonical.segments, canonical.trailing_slash, tuple(query)
    )


def json_headers(headers: CIMultiDict) -> CIMultiDict:
    """Ask for JSON (or a JSON Table) the proxy can merge, uncompressed."""
    headers = headers.copy()
    prepare_headers(headers)
    return headers


async def fetch(up: Upstream, target: CanonicalRequest, budget: list[int]) -> Answer:
    """GET one namespace's list, read and parsed (within the shared byte ``budget``)."""

    url = URL(up.conn.server.rstrip("/") + target.target, encoded=True)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=up.connect_s, sock_read=up.read_s)
    try:
        response = await asyncio.wait_for(
            up.session.get(
                url, headers=up.headers, ssl=up.ssl, allow_redirects=False, timeout=timeout,
                skip_auto_headers=("User-Agent", "Accept-Encoding"),
            ),
            timeout=up.connect_s + up.read_s,
        )  # fmt: skip
    except (aiohttp.ClientError, TimeoutError) as exc:
        error = connection_error(up.conn, exc, up.read_s)
        return Answer(error.status_code, "application/json", message=str(error.detail))
    try:
        chunks = []
        async for chunk in response.content.iter_any():
            budget[0] -= len(chunk)
            if budget[0] < 0:
                return Answer(
                    502,
                    message=f"the merged list is larger than {MAX_MERGED_BODY} bytes: list it "
                    "in pages (kubectl --chunk-size, the API's limit)",
                )
            chunks.append(chunk)
        raw = b"".join(chunks)
    except (aiohttp.ClientError, TimeoutError) as exc:
        error = connection_error(up.conn, exc, up.read_s)
        return Answer(error.status_code, message=str(error.detail))
    finally:
        response.close()
    content_type = response.headers.get("content-type", "")
    answer = Answer(response.status, content_type, raw=raw)
    if response.status == 200:
        try:
            answer.doc = json.loads(raw)
        except ValueError:
            answer.doc = None
        if not isinstance(answer.doc, dict):
            return Answer(502, message="the cluster answered a list the portal cannot read")
    return answer


def entries(doc: dict) -> list:
    """The items of a list, or the rows of a Table."""
    key = "rows" if doc.get("kind") == "Table" else "items"
    found = doc.get(key)
    return found if isinstance(found, list) else []


def _meta(doc: dict) -> dict:
    meta = doc.get("metadata")
    return meta if isinstance(meta, dict) else {}


async def _send_json(send, status: int, content_type: str, body: bytes, request_id: str):
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", (content_type or "application/json").encode("latin-1")),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-cache, private"),
                (b"x-request-id", request_id.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _send_answer_error(send, answer: Answer, request_id: str) -> tuple[int, str]:
    """An upstream refusal relayed as the cluster gave it (a Status), or the proxy's own."""
    body = answer.raw if answer.raw and "json" in answer.content_type else b""
    message = answer.message
    if not body:
        body = status_body(answer.status, answer.message or f"the cluster answered {answer.status}")
    else:
        with contextlib.suppress(ValueError, AttributeError):
            message = json.loads(body).get("message", "")
    await _send_json(send, answer.status, "application/json", body, request_id)
    return answer.status, message


def _query_pairs(canonical: CanonicalRequest, own: frozenset[str]) -> list[tuple[str, str]]:
    return [(k, v) for k, v in canonical.query if k not in own]


def _last(canonical: CanonicalRequest, key: str) -> str:
    values = canonical.query_dict.get(key)
    return values[-1] if values else ""


# -- lists -------------------------------------------------------------------------------------
async def merged_list(up: Upstream, canonical, spread: Spread, request_id: str, send):
    """Answer a list across namespaces from the namespaces of ``spread``; (status, message)."""
    scope = f"{canonical.cluster_name}{canonical.encoded_path}"
    limit_text = _last(canonical, "limit")
    try:
        limit = int(limit_text) if limit_text else 0
        if limit < 0:
            raise ValueError(limit)
    except ValueError:
        return await _refuse(send, Denial(400, f"limit: invalid value {limit_text!r}"), request_id)
    token = _last(canonical, "continue")
    client_rv = [(k, _last(canonical, k)) for k in ("resourceVersion", "resourceVersionMatch")]
    client_rv = [(k, v) for k, v in client_rv if v]
    names = spread.namespaces
    rv, start, upstream_cont = "", names[0], ""
    if token:
        if dict(client_rv).get("resourceVersion", "0") != "0":
            return await _refuse(
                send,
                Denial(400, "specifying resource version is not allowed when using continue"),
                request_id,
            )
        try:
            rv, start, upstream_cont = decode_token(scope, token)
        except Denial as denial:
            return await _refuse(send, denial, request_id)
    # The namespace to go on with; if it is no longer listable, the next one after it.
    index = next((i for i, ns in enumerate(names) if ns >= start), len(names))
    if index < len(names) and names[index] != start:
        upstream_cont = ""
    base = _query_pairs(canonical, _LIST_OWN)
    budget = [MAX_MERGED_BODY]
    head: dict | None = None
    content_type = ""
    merged: list = []
    next_token = ""
    while index < len(names) and not next_token:
        room = limit - len(merged) if limit else 0
        batch = names[index : index + (1 if not rv or upstream_cont else PARALLEL)]
        targets = []
        for ns in batch:
            query = list(base)
            if limit:
                query.append(("limit", str(room)))
            if upstream_cont:
                query.append(("continue", upstream_cont))
            elif not rv:
                query.extend(client_rv)
            else:
                query += [("resourceVersion", rv), ("resourceVersionMatch", "Exact")]
            targets.append(namespaced(canonical, ns, query))
        answers = await asyncio.gather(*(fetch(up, t, budget) for t in targets))
        for offset, (ns, answer) in enumerate(zip(batch, answers, strict=True)):
            if answer.status != 200:
                return await _send_answer_error(send, answer, request_id)
            doc = answer.doc
            if head is None:
                head, content_type = doc, answer.content_type
            if not rv:
                rv = str(_meta(doc).get("resourceVersion", ""))
            if spread.secrets and ns not in spread.reveal:
                doc = mask_secrets(doc)
            got = entries(doc)
            if limit and len(got) > limit - len(merged):
                # Listed with the room left at the start of the batch: not all of it fits
                # now. This namespace starts the next page (this page is not empty).
                next_token = encode_token(scope, rv, ns, "")
                break
            merged.extend(got)
            cont = _meta(doc).get("continue") or ""
            position = index + offset
            if cont:
                next_token = encode_token(scope, rv, ns, cont)
                break
            if limit and len(merged) >= limit and position + 1 < len(names):
                next_token = encode_token(scope, rv, names[position + 1], "")
                break
        index += len(batch)
        upstream_cont = ""
    if head is None:  # the token pointed past the last namespace: an empty last page
        head = {"kind": "List", "apiVersion": "v1"}
        content_type = "application/json"
    meta = {"resourceVersion": rv}
    if next_token:
        meta["continue"] = next_token
    key = "rows" if head.get("kind") == "Table" else "items"
    out = {k: v for k, v in head.items() if k not in ("metadata", "items", "rows")}
    out["metadata"] = meta
    out[key] = merged
    body = json.dumps(out, separators=(",", ":")).encode()
    await _send_json(send, 200, content_type, body, request_id)
    return 200, f"merged {len(merged)} objects from {len(names)} namespaces"


async def _refuse(send, denial: Denial, request_id: str) -> tuple[int, str]:
    await _send_json(send, denial.code, "application/json", denial.body, request_id)
    return denial.code, denial.message


def _names(doc: dict) -> str:
    obj = doc.get("object") if "object" in doc and "type" in doc else doc
    if not isinstance(obj, dict):
        return ""
    if obj.get("kind") == "Table":
        rows = obj.get("rows") or []
        obj = rows[0].get("object", {}) if rows and isinstance(rows[0], dict) else {}
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    return meta.get("name", "") if isinstance(meta, dict) else ""


async def filtered_list(up: Upstream, canonical, spread: Spread, request_id: str, send):
    """Namespaces: the cluster's list (or Table) minus the namespaces the user may not list."""
    answer = await fetch(up, canonical, [MAX_MERGED_BODY])
    if answer.status != 200:
        return await _send_answer_error(send, answer, request_id)
    doc, allowed = answer.doc, set(spread.namespaces)
    key = "rows" if doc.get("kind") == "Table" else "items"
    kept = [e for e in entries(doc) if isinstance(e, dict) and _row_name(e) in allowed]
    doc[key] = kept
    meta = _meta(doc)
    meta.pop("remainingItemCount", None)  # it would count the namespaces left out
    body = json.dumps(doc, separators=(",", ":")).encode()
    await _send_json(send, 200, answer.content_type, body, request_id)
    return 200, f"{len(kept)} of the cluster's namespaces shown"


def _row_name(entry: dict) -> str:
    """An item's name, or a Table row's (its ``object``)."""
    obj = entry.get("object") if "cells" in entry else entry
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    return meta.get("name", "") if isinstance(meta, dict) else ""


# -- watches -----------------------------------------------------------------------------------
def _event_rv(event: dict) -> str:
    obj = event.get("object")
    if not isinstance(obj, dict):
        return ""
    meta = _meta(obj)
    if meta.get("resourceVersion"):
        return str(meta["resourceVersion"])
    if obj.get("kind") == "Table":
        rows = obj.get("rows") or []
        if rows and isinstance(rows[0], dict) and isinstance(rows[0].get("object"), dict):
            return str(_meta(rows[0]["object"]).get("resourceVersion", ""))
    return ""


def _expired_event(message: str) -> bytes:
    status = json.loads(status_body(410, message))
    status["reason"] = "Expired"
    return json.dumps({"type": "ERROR", "object": status}, separators=(",", ":")).encode() + b"\n"


class _Broken(Exception):
    """A namespace's stream ended before its time (cut, or closed by the cluster)."""


class MergedWatch:
    """One client watch across the namespaces of a :class:`Spread` (module docstring)."""

    def __init__(self, up: Upstream, canonical, spread: Spread, send, filtering: bool = False):
        self.up = up
        self.canonical = canonical
        self.spread = spread
        self.send = send
        self.filtering = filtering  # Namespaces: one stream, events of other namespaces dropped
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(QUEUE_EVENTS)
        self.client_rv = _last(canonical, "resourceVersion")
        self.bookmarks = _last(canonical, "allowWatchBookmarks").lower() in ("1", "true")
        self.send_initial = _last(canonical, "sendInitialEvents").lower() in ("1", "true")
        timeout = _last(canonical, "timeoutSeconds")
        try:
            seconds = float(timeout) if timeout else 0.0
        except ValueError:
            raise Denial(400, f"timeoutSeconds: invalid value {timeout!r}") from None
        self.deadline = time.monotonic() + seconds if seconds > 0 else None
        streams = ("",) if filtering else spread.namespaces
        self.progress: dict[str, int] = dict.fromkeys(streams, 0)  # rv reached per namespace
        self.initial_done: set[str] = set()
        self.bookmark_sent = 0
        self.reopened = 0
        self.ended: str = ""

    # Upstream requests ---------------------------------------------------------------------
    def _target(self, ns: str, rv: str) -> CanonicalRequest:
        query = _query_pairs(self.canonical, _WATCH_OWN)
        query.append(("allowWatchBookmarks", "true"))
        if rv:
            query.append(("resourceVersion", rv))
        else:
            # From now, with the initial state first and its end marked by a bookmark at the
            # snapshot's resourceVersion: the exact point to resume from after a break.
            if self.client_rv:
                query.append(("resourceVersion", self.client_rv))
            query += [("sendInitialEvents", "true"), ("resourceVersionMatch", "NotOlderThan")]
        if self.deadline is not None:
            left = max(1, int(self.deadline - time.monotonic() + 0.999))
            query.append(("timeoutSeconds", str(left)))
        if self.filtering:
            return with_query(self.canonical, query)
        return namespaced(self.canonical, ns, query)

    async def open(self, ns: str, rv: str) -> aiohttp.ClientResponse | Answer:

        target = self._target(ns, rv)
        url = URL(self.up.conn.server.rstrip("/") + target.target, encoded=True)
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.up.connect_s)
        try:
            response = await asyncio.wait_for(
                self.up.session.get(
                    url, headers=self.up.headers, ssl=self.up.ssl, allow_redirects=False,
                    timeout=timeout, skip_auto_headers=("User-Agent", "Accept-Encoding"),
                ),
                timeout=self.up.connect_s + self.up.read_s,
            )  # fmt: skip
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = connection_error(self.up.conn, exc, self.up.read_s)
            return Answer(error.status_code, message=str(error.detail))
        if response.status != 200:
            try:
                raw = await response.read()
            except (aiohttp.ClientError, TimeoutError):
                raw = b""
            finally:
                response.close()
            return Answer(response.status, response.headers.get("content-type", ""), raw=raw)
        return response

    # Events --------------------------------------------------------------------------------
    async def _emit(self, line: bytes) -> None:
        await self.queue.put(line)

    def _event_line(self, ns: str, event: dict, line: bytes) -> bytes | None:
        """The line to send for one upstream event (None: swallowed), progress recorded."""
        etype = event.get("type")
        rv = _event_rv(event)
        if rv.isdigit():
            self.progress[ns] = max(self.progress[ns], int(rv))
        if etype == "BOOKMARK":
            obj = event.get("object") or {}
            annotations = _meta(obj).get("annotations") or {}
            if annotations.get(INITIAL_EVENTS_END) == "true":
                self.initial_done.add(ns)
                if not (self.send_initial and len(self.initial_done) == len(self.progress)):
                    return None
            elif not self.bookmarks:
                return None
            # A merged bookmark: only once every namespace reached it (resuming from it may
            # repeat events, never skips one).
            floor = min(self.progress.values())
            if floor <= self.bookmark_sent:
                return None
            self.bookmark_sent = floor
            _meta(obj)["resourceVersion"] = str(floor)
            return json.dumps(event, separators=(",", ":")).encode() + b"\n"
        if self.filtering and _names(event) not in self.spread.namespaces:
            return None
        if self.spread.secrets and ns not in self.spread.reveal:
            return json.dumps(mask_secrets(event), separators=(",", ":")).encode() + b"\n"
        return line if line.endswith(b"\n") else line + b"\n"

    async def pump(self, ns: str, first: aiohttp.ClientResponse) -> None:
        """Relay one namespace's stream; re-open it when it breaks; end the merged watch when
        it cannot go on."""
        response: aiohttp.ClientResponse | Answer = first
        failures = 0
        while True:
            if isinstance(response, Answer):
                if response.status == 410 or failures >= WATCH_RETRIES:
                    await self._finish(
                        _expired_event(
                            f"the watch of namespace {ns or 'namespaces'} could not be resumed "
                            f"({response.status}): list again"
                        ),
                        f"namespace {ns or '-'} could not be resumed ({response.status})",
                    )
                    return
            else:
                try:
                    outcome = await self._relay(ns, response)
                except _Broken:
                    outcome = "broken"
                finally:
                    response.close()
                if outcome == "error":
                    return
                if outcome == "events":
                    failures = 0
                if self.deadline is not None and time.monotonic() >= self.deadline:
                    return
            if self.ended:
                return
            await asyncio.sleep(BACKOFF_S[min(failures, len(BACKOFF_S) - 1)])
            failures += 1
            self.reopened += 1
            response = await self.open(ns, self._resume_from(ns))

    def _resume_from(self, ns: str) -> str:
        """Where a broken stream goes on: after the last event it delivered; before any, from
        where the client asked; from no version (the initial state again: ADDED events the
        client may have seen) only when it broke before its initial state was complete."""
        given = self.client_rv not in ("", "0")
        if self.progress[ns] and (given or ns in self.initial_done):
            return str(self.progress[ns])
        return self.client_rv if given else ""

    async def _relay(self, ns: str, response: aiohttp.ClientResponse) -> str:
        """Read one upstream stream to its end: "events" (delivered some), "quiet", or
        "error" (an ERROR event ended the merged watch)."""
        pending = b""
        delivered = False
        try:
            async for chunk in response.content.iter_any():
                pending += chunk
                if len(pending) > MAX_EVENT and b"\n" not in pending:
                    raise _Broken
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    if not line.strip():
                        continue
                    try:
                        event = json.loads(line)
                    except ValueError:
                        raise _Broken from None
                    if not isinstance(event, dict):
                        raise _Broken
                    if event.get("type") == "ERROR":
                        code = (event.get("object") or {}).get("code")
                        await self._finish(line + b"\n", f"namespace {ns or '-'}: ERROR {code}")
                        return "error"
                    out = self._event_line(ns, event, line)
                    if out is not None:
                        await self._emit(out)
                        delivered = True
        except (aiohttp.ClientError, TimeoutError):
            raise _Broken from None
        return "events" if delivered else "quiet"

    async def _finish(self, last: bytes | None, why: str) -> None:
        if not self.ended:
            self.ended = why
            if last is not None:
                await self.queue.put(last)
            await self.queue.put(None)

    # The client side -----------------------------------------------------------------------
    async def serve(self, receive, request_id: str) -> tuple[int, str]:
        streams = list(self.progress)
        given = self.client_rv if self.client_rv not in ("", "0") else ""
        opened = await asyncio.gather(*(self.open(ns, given) for ns in streams))
        refused = next((a for a in opened if isinstance(a, Answer)), None)
        if refused is not None:
            for response in opened:
                if not isinstance(response, Answer):
                    response.close()
            return await _send_answer_error(self.send, refused, request_id)
        first = opened[0]
        headers = [
            h
            for h in response_headers(first.headers)
            if h[0] not in (b"content-length", b"content-encoding", b"x-request-id")
        ]
        headers.append((b"x-request-id", request_id.encode()))
        await self.send({"type": "http.response.start", "status": 200, "headers": headers})
        pumps = [
            asyncio.ensure_future(self.pump(ns, response))
            for ns, response in zip(streams, opened, strict=True)
        ]
        gone = asyncio.ensure_future(_client_gone(receive))
        finished = asyncio.ensure_future(self._all_done(pumps))
        writer = asyncio.ensure_future(self._write())
        try:
            done, _ = await asyncio.wait(
                {gone, writer, finished}, return_when=asyncio.FIRST_COMPLETED
            )
            if finished in done and not self.ended:
                await self._finish(None, "every namespace's watch ended")
                await writer
        finally:
            for task in (*pumps, gone, finished, writer):
                task.cancel()
            for task in (*pumps, gone, finished, writer):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if gone.done() and not gone.cancelled():
            why = "stream closed by the client"
        else:
            why = self.ended or "ended"
        return 200, (
            f"watched {len(streams)} namespace{'s' if len(streams) != 1 else ''}; {why}"
            + (f"; {self.reopened} re-opened" if self.reopened else "")
        )

    async def _all_done(self, pumps) -> None:
        await asyncio.gather(*pumps, return_exceptions=True)

    async def _write(self) -> None:
        while True:
            line = await self.queue.get()
            if line is None:
                await self.send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            await self.send({"type": "http.response.body", "body": line, "more_body": True})


async def _client_gone(receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


# -- entry point -------------------------------------------------------------------------------
async def serve(up: Upstream, canonical, target, spread: Spread, request_id, send, receive):
    """Answer a request across namespaces per ``spread``; (status sent, audit message)."""
    up.headers = json_headers(up.headers)
    if target.verb == "watch":
        try:
            watch = MergedWatch(up, canonical, spread, send, filtering=spread.mode == "filter")
        except Denial as denial:
            return await _refuse(send, denial, request_id)
        return await watch.serve(receive, request_id)
    if spread.mode == "filter":
        return await filtered_list(up, canonical, spread, request_id, send)
    return await merged_list(up, canonical, spread, request_id, send)
