"""pods/exec and attach over websockets (v4 and v5), pods/log with its parameters."""

from __future__ import annotations

import asyncio
import json
import ssl
import time

import aiohttp
import pytest
import yaml
from kubernetes import client
from kubernetes.stream import stream

from .conftest import pod, raw, running_pod


@pytest.fixture
def shell_pod(core, namespace):
    body = pod("shell")
    body["spec"]["containers"][0]["env"] = [{"name": "GREETING", "value": "hello"}]
    running_pod(core, namespace, body)
    return "shell"


def exec_(core, namespace, name, command, **kwargs):
    return stream(
        core.connect_get_namespaced_pod_exec,
        name,
        namespace,
        command=command,
        stderr=True,
        stdin=False,
        stdout=True,
        tty=False,
        **kwargs,
    )


@pytest.mark.simulator_only
def test_exec_runs_sandboxed_commands(core, namespace, shell_pod):
    assert exec_(core, namespace, shell_pod, ["echo", "hi", "there"]) == "hi there\n"
    assert exec_(core, namespace, shell_pod, ["hostname"]) == "shell\n"
    assert exec_(core, namespace, shell_pod, ["sh", "-c", "echo $GREETING | tr"]).startswith(
        "sh: tr: not found"
    )
    assert exec_(core, namespace, shell_pod, ["cat", "/etc/hostname"]) == "shell\n"
    out = exec_(
        core,
        namespace,
        shell_pod,
        ["sh", "-c", "echo one > /tmp/f; echo two >> /tmp/f; cat /tmp/f"],
    )
    assert out == "one\ntwo\n"
    assert exec_(core, namespace, shell_pod, ["cat", "/tmp/f"]) == "one\ntwo\n"  # persists
    assert "GREETING=hello" in exec_(core, namespace, shell_pod, ["env"])


def test_exec_exit_code_on_error_channel(core, namespace, shell_pod):
    resp = stream(
        core.connect_get_namespaced_pod_exec,
        shell_pod,
        namespace,
        command=["sh", "-c", "echo out; echo err >&2; exit 3"],
        stderr=True,
        stdin=False,
        stdout=True,
        tty=False,
        _preload_content=False,
    )
    resp.run_forever(timeout=5)
    assert resp.returncode == 3
    ok = stream(
        core.connect_get_namespaced_pod_exec,
        shell_pod,
        namespace,
        command=["true"],
        stderr=True,
        stdin=False,
        stdout=True,
        tty=False,
        _preload_content=False,
    )
    ok.run_forever(timeout=5)
    assert ok.returncode == 0


def test_exec_stdin_round_trip(core, namespace, shell_pod):
    resp = stream(
        core.connect_get_namespaced_pod_exec,
        shell_pod,
        namespace,
        command=["cat"],
        stderr=True,
        stdin=True,
        stdout=True,
        tty=False,
        _preload_content=False,
    )
    resp.write_stdin("ping\n")
    out = ""
    deadline = time.monotonic() + 5
    while "ping" not in out and time.monotonic() < deadline:
        resp.update(timeout=0.5)
        out += resp.read_stdout(timeout=0.1) or ""
    assert out == "ping\n"
    resp.close()


async def _ws_exec(cluster, namespace, name, protocol, query, send=()):
    kube = yaml.safe_load(cluster.kubeconfig.read_text())
    server = kube["clusters"][0]["cluster"]["server"]
    token = kube["users"][0]["user"]["token"]
    ctx = ssl.create_default_context(cafile=cluster.sim.ca_file) if cluster.sim.ca_file else None
    url = (
        server.replace("https", "wss").replace("http", "ws")
        + f"/api/v1/namespaces/{namespace}/pods/{name}/exec?{query}"
    )
    frames = []
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(
            url, protocols=(protocol,), headers={"Authorization": f"Bearer {token}"}, ssl=ctx
        ) as ws,
    ):
        assert ws.protocol == protocol
        for frame in send:
            await ws.send_bytes(frame)
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.BINARY:
                frames.append((msg.data[0], bytes(msg.data[1:])))
    return frames


@pytest.mark.simulator_only
@pytest.mark.parametrize("protocol", ["v4.channel.k8s.io", "v5.channel.k8s.io"])
def test_exec_channel_protocols_resize_and_close(cluster, core, namespace, shell_pod, protocol):
    query = "command=sh&stdin=true&stdout=true&tty=true"
    send = [
        b"\x04" + json.dumps({"Width": 120, "Height": 40}).encode(),
        b"\x00stty size\r",
        b"\x00exit 4\r",
    ]
    frames = asyncio.run(_ws_exec(cluster, namespace, shell_pod, protocol, query, send))
    stdout = b"".join(data for ch, data in frames if ch == 1).decode()
    assert "40 120" in stdout and "# " in stdout  # prompt, echo, output
    status = json.loads(next(data for ch, data in frames if ch == 3))
    assert status["reason"] == "NonZeroExitCode"
    assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "4"}]
    if protocol.startswith("v5"):
        frames = asyncio.run(
            _ws_exec(
                cluster,
                namespace,
                shell_pod,
                protocol,
                "command=cat&stdin=true&stdout=true",
                [b"\x00abc", b"\xff\x00"],
            )
        )
        assert b"".join(d for ch, d in frames if ch == 1) == b"abc"
        assert json.loads(next(d for ch, d in frames if ch == 3))["status"] == "Success"


def test_exec_errors(api, core, namespace, shell_pod):
    core.create_namespaced_pod(
        namespace, pod("pending", nodeName=None, nodeSelector={"no": "such-node"})
    )
    resp = raw(
        api,
        "GET",
        f"/api/v1/namespaces/{namespace}/pods/pending/exec",
        query=[("command", "ls"), ("stdout", "true")],
    )
    assert resp.status == 400
    resp = raw(
        api,
        "GET",
        f"/api/v1/namespaces/{namespace}/pods/missing/exec",
        query=[("command", "ls"), ("stdout", "true")],
    )
    assert resp.status == 404


def test_logs_with_parameters(cluster, core, namespace):
    body = pod("logger")
    body["spec"]["containers"].append({"name": "side", "image": "nginx:1.27"})
    running_pod(core, namespace, body)
    with pytest.raises(client.ApiException) as err:
        core.read_namespaced_pod_log("logger", namespace)
    assert (
        err.value.status == 400
        and "a container name must be specified" in json.loads(err.value.body)["message"]
    )
    full = core.read_namespaced_pod_log("logger", namespace, container="main")
    assert len(full.splitlines()) >= 3
    tail = core.read_namespaced_pod_log("logger", namespace, container="main", tail_lines=1)
    assert tail.splitlines() == full.splitlines()[-1:]
    stamped = core.read_namespaced_pod_log(
        "logger", namespace, container="main", timestamps=True, tail_lines=1
    )
    assert stamped.split(" ", 1)[0].endswith("Z") and stamped.split(" ", 1)[1] == tail
    assert core.read_namespaced_pod_log("logger", namespace, container="main", since_seconds=3600)
    with pytest.raises(client.ApiException) as err:
        core.read_namespaced_pod_log("logger", namespace, container="main", previous=True)
    assert err.value.status == 400


@pytest.mark.simulator_only
def test_logs_follow_streams_new_lines(cluster, api, core, namespace):
    running_pod(core, namespace, pod("follow"))
    resp = raw(
        api,
        "GET",
        f"/api/v1/namespaces/{namespace}/pods/follow/log",
        stream=True,
        query=[("follow", "true"), ("tailLines", "0")],
    )
    cluster.sim.append_log(namespace, "follow", "main", "first live line")
    started = time.monotonic()
    line = resp.readline()
    assert line == b"first live line\n" and time.monotonic() - started < 2
    resp.close()


@pytest.mark.simulator_only
def test_attach_streams_container_output(cluster, core, namespace):
    running_pod(core, namespace, pod("att"))

    async def attach():
        kube = yaml.safe_load(cluster.kubeconfig.read_text())
        server = kube["clusters"][0]["cluster"]["server"].replace("https", "wss")
        ctx = ssl.create_default_context(cafile=cluster.sim.ca_file)
        url = f"{server}/api/v1/namespaces/{namespace}/pods/att/attach?stdout=true"
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(
                url,
                protocols=("v5.channel.k8s.io",),
                ssl=ctx,
                headers={"Authorization": f"Bearer {kube['users'][0]['user']['token']}"},
            ) as ws,
        ):
            await asyncio.sleep(0.1)
            cluster.sim.append_log(namespace, "att", "main", "attached!")
            msg = await asyncio.wait_for(ws.receive(), 5)
            return msg.data

    assert asyncio.run(attach()) == b"\x01attached!\n"


@pytest.mark.simulator_only
def test_exec_protocols_can_be_narrowed_to_play_an_older_server(
    cluster, core, namespace, shell_pod
):
    """A cluster serving v4 only (as API servers before 1.30) answers a client offering v5 and
    v4 with v4; one offering v5 only gets no subprotocol."""
    cluster.sim.call(lambda c: setattr(c, "exec_protocols", ("v4.channel.k8s.io",)))
    kube = yaml.safe_load(cluster.kubeconfig.read_text())
    server = kube["clusters"][0]["cluster"]["server"].replace("https", "wss")
    token = kube["users"][0]["user"]["token"]
    ctx = ssl.create_default_context(cafile=cluster.sim.ca_file)
    url = f"{server}/api/v1/namespaces/{namespace}/pods/{shell_pod}/exec?command=true&stdout=true"

    async def chosen(offered):
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(
                url, protocols=offered, headers={"Authorization": f"Bearer {token}"}, ssl=ctx
            ) as ws,
        ):
            return ws.protocol

    assert asyncio.run(chosen(("v5.channel.k8s.io", "v4.channel.k8s.io"))) == "v4.channel.k8s.io"
    assert asyncio.run(chosen(("v5.channel.k8s.io",))) is None
    cluster.sim.call(lambda c: setattr(c, "exec_protocols", None))
    assert asyncio.run(chosen(("v5.channel.k8s.io", "v4.channel.k8s.io"))) == "v5.channel.k8s.io"


@pytest.mark.simulator_only
def test_log_rate_annotation_writes_numbered_lines_at_that_rate(api, core, namespace):
    """``kubesim.io/log-lines-per-second`` (a load source for benchmarks): a follower gets
    about that many numbered lines a second, in order, none missing; a pod without the
    annotation writes its usual one line a second."""
    body = pod("chatty")
    body["metadata"]["annotations"] = {"kubesim.io/log-lines-per-second": "500"}
    running_pod(core, namespace, body)
    running_pod(core, namespace, pod("calm"))

    def follow(name: str, seconds: float) -> list[bytes]:
        resp = raw(
            api,
            "GET",
            f"/api/v1/namespaces/{namespace}/pods/{name}/log",
            stream=True,
            query=[("follow", "true"), ("tailLines", "0")],
        )
        lines, deadline = [], time.monotonic() + seconds
        while time.monotonic() < deadline:
            lines.append(resp.readline())
        resp.close()
        return lines

    lines = follow("chatty", 1.0)
    generated = [line for line in lines if b" line " in line and b"generated at 500" in line]
    numbers = [int(line.split(b" line ")[1].split(b":")[0]) for line in generated]
    assert 300 <= len(numbers) <= 700, len(numbers)
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
    calm = follow("calm", 1.2)
    assert 0 < len(calm) <= 3 and not any(b"generated at" in line for line in calm), calm
