"""Live logs over a websocket (apps/terminal/logs.py) against kubesim: who may follow a pod's
logs, lines arriving as the container writes them, pause/resume, and the bound on what the
server keeps for a browser that does not read."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from asgiref.sync import sync_to_async

from apps.audit.models import AuditEvent
from apps.terminal.logs import LineQueue, LogsConsumer
from tests.factories import make_api_key

from .conftest import open_term, session_cookie

login = sync_to_async(session_cookie)

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.usefixtures("close_upstreams"),
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("quiet"),
]


@pytest.fixture
def quiet(cluster, sim):
    """The pods run; the controller stops, so no container writes lines of its own (only the
    test's lines are in the logs)."""
    sim.set_controller(False)


def logs_path(cluster, namespace="team-a", pod="web", query="container=main") -> str:
    return f"/ws/clusters/{cluster.name}/namespaces/{namespace}/pods/{pod}/logs?{query}"


def log_requests(sim):
    return [p for _, p in sim.requests() if p.endswith("/log")]


async def lines_until(term, needle: str, timeout: float = 10) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        got = [line for c in term.controls if c.get("type") == "log" for line in c["lines"]]
        if any(needle in line for line in got):
            return got
        assert time.monotonic() < deadline, (needle, term.controls)
        await term.next(max(deadline - time.monotonic(), 0.01))


async def test_lines_arrive_as_the_container_writes_them(cluster, sim, member):
    connected, term = await open_term(
        logs_path(cluster, query="container=main&tailLines=0&timestamps=true"),
        await login(member),
    )
    assert connected
    await sync_to_async(sim.append_log)("team-a", "web", "main", "hello-one")
    await sync_to_async(sim.append_log)("team-a", "web", "main", "hello-two")
    got = await lines_until(term, "hello-two")
    assert [line.split(" ", 1)[1] for line in got] == ["hello-one", "hello-two"]
    assert all(line[:4].isdigit() and "T" in line.split(" ", 1)[0] for line in got)
    await term.ws.disconnect()
    (opened,) = await sync_to_async(list)(AuditEvent.objects.filter(action="getPodLog"))
    assert (opened.username, opened.message, opened.channel) == (
        "acme/bob",
        "live log stream opened",
        "websocket",
    )
    assert opened.resource == f"cluster:{cluster.name}/namespace:team-a/pod:web"


async def test_other_projects_pod_logs_are_refused_before_the_cluster(cluster, sim, project_member):
    connected, term = await open_term(
        logs_path(cluster, "team-b", "db"), await login(project_member)
    )
    assert await term.until_closed() == 4403
    assert "may not getPodLog" in term.control("error")["message"]
    assert log_requests(sim) == []


async def test_no_session_and_bad_origin_are_refused(cluster, sim, member):
    connected, term = await open_term(logs_path(cluster))
    assert await term.until_closed() == 4401
    connected, _ = await open_term(logs_path(cluster), await login(member), origin="http://x.test")
    assert not connected
    assert log_requests(sim) == []


async def test_pause_holds_lines_and_resume_delivers_them(cluster, sim, member):
    connected, term = await open_term(
        logs_path(cluster, query="container=main&tailLines=0"), await login(member)
    )
    await sync_to_async(sim.append_log)("team-a", "web", "main", "before-pause")
    await lines_until(term, "before-pause")
    await term.ws.send_to(text_data=json.dumps({"type": "pause"}))
    await asyncio.sleep(0.2)
    await sync_to_async(sim.append_log)("team-a", "web", "main", "while-paused")
    assert await term.ws.receive_nothing(0.5)  # held while paused
    await term.ws.send_to(text_data=json.dumps({"type": "resume"}))
    got = await lines_until(term, "while-paused")
    assert got == ["before-pause", "while-paused"]
    await term.ws.disconnect()


class SlowBrowser:
    """An ASGI client whose reads can be stopped: ``send`` blocks while ``reading`` is clear,
    as a server's send blocks when the browser's socket buffer is full."""

    def __init__(self):
        self.inbox: asyncio.Queue = asyncio.Queue()
        self.sent: list[dict] = []
        self.reading = asyncio.Event()
        self.reading.set()

    async def send(self, message):
        if message["type"] == "websocket.send":
            await self.reading.wait()
        self.sent.append(message)

    async def receive(self):
        return await self.inbox.get()

    def controls(self) -> list[dict]:
        return [json.loads(m["text"]) for m in self.sent if m.get("text")]

    def lines(self) -> list[str]:
        return [line for c in self.controls() if c["type"] == "log" for line in c["lines"]]

    async def until(self, predicate, timeout=10.0):
        deadline = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < deadline, self.controls()
            await asyncio.sleep(0.02)


async def test_a_browser_that_does_not_read_costs_at_most_the_queue(cluster, sim, member, settings):
    settings.TERMINAL_LOG_QUEUE = 50
    _, token = await sync_to_async(make_api_key)(member)
    scope = {
        "type": "websocket",
        "path": logs_path(cluster).split("?")[0],
        "query_string": b"container=main&tailLines=0",
        "headers": [
            (b"origin", b"http://localhost"),
            (b"authorization", f"Bearer {token}".encode()),
        ],
        "subprotocols": [],
        "client": ("127.0.0.1", 5000),
        "url_route": {"kwargs": {"cluster": cluster.name, "namespace": "team-a", "pod": "web"}},
    }
    browser = SlowBrowser()
    await browser.inbox.put({"type": "websocket.connect"})
    app = asyncio.ensure_future(LogsConsumer()(scope, browser.receive, browser.send))
    await browser.until(lambda: any(m["type"] == "websocket.accept" for m in browser.sent))

    browser.reading.clear()  # the browser stops reading
    await sync_to_async(sim.append_log)("team-a", "web", "main", "blocker")
    await asyncio.sleep(0.3)  # the server took "blocker" and is stuck sending it

    def flood(c):
        for i in range(500):
            c.logs.append(("team-a", "web", "main"), f"n-{i}")

    await sync_to_async(sim.call)(flood)
    await asyncio.sleep(1.0)  # the server read all 500 from the cluster meanwhile
    browser.reading.set()
    await sync_to_async(sim.append_log)("team-a", "web", "main", "after")
    await browser.until(lambda: "after" in browser.lines())

    kept = [line for line in browser.lines() if line.startswith("n-")]
    assert kept == [f"n-{i}" for i in range(50)]  # exactly the queue's worth, in order
    markers = [c for c in browser.controls() if c["type"] == "dropped"]
    assert markers == [{"type": "dropped", "count": 450}]
    order = [c["type"] for c in browser.controls() if c["type"] in ("log", "dropped")]
    assert order.index("dropped") < len(order) - 1  # "after" comes after the marker
    assert browser.lines()[-1] == "after" and browser.lines()[0] == "blocker"
    await browser.inbox.put({"type": "websocket.disconnect", "code": 1000})
    await asyncio.wait_for(app, 5)


async def test_line_queue_bound_and_markers():
    queue = LineQueue(3)
    for i in range(10):
        queue.put(f"l{i}")
    assert queue.queue.qsize() == 3 and queue.dropped == 7
    assert [queue.queue.get_nowait() for _ in range(3)] == [
        ("line", "l0"),
        ("line", "l1"),
        ("line", "l2"),
    ]
    queue.put("l10")
    assert [queue.queue.get_nowait() for _ in range(2)] == [("dropped", 7), ("line", "l10")]
    for i in range(5):
        queue.put(f"m{i}")
    queue.end("done")
    items = [queue.queue.get_nowait() for _ in range(queue.queue.qsize())]
    assert items[-1] == ("end", "done") and items[-2][0] == "dropped"
    assert queue.queue.maxsize == 3 and len(items) == 3
    assert queue.dropped_total == 7 + 2 + 1 + 1
