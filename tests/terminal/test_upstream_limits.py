"""Terminals and live-log streams each hold a connection to the cluster for as long as they
are open: their connection pool has no per-cluster cap (the kubectl proxy's pool keeps its
cap of 64), else the 65th terminal to one cluster would wait behind the others and time
out as "cluster unreachable"."""

from __future__ import annotations

import pytest

from apps.clusters.proxy import upstream
from apps.terminal import exec as terminal_exec
from apps.terminal import logs


@pytest.mark.asyncio
async def test_terminal_streams_have_no_per_cluster_connection_cap():
    assert logs.upstreams is terminal_exec.upstreams
    terminals, proxy = terminal_exec.upstreams.session(), upstream.Upstreams().session()
    try:
        assert terminals.connector.limit_per_host == 0 and terminals.connector.limit == 0
        assert proxy.connector.limit_per_host == 64
    finally:
        await terminals.close()
        await proxy.close()
