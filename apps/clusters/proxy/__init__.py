"""kubectl through the portal: an authenticated, authorized and audited Kubernetes API proxy
at ``/k8s/clusters/<cluster-name>/…`` (HTTP and websocket), and per-user kubeconfigs
(``GET /api/v1/clusters/<name>/kubeconfig``) that point kubectl at it.

``mount(app)`` wraps the portal's ASGI application so ``/k8s/`` scopes reach the proxy before
Django or Channels; import it only after Django is set up (it imports models).
"""

from __future__ import annotations

import gc

PROXY_ROOT = "/k8s/"


def mount(portal_app):
    """The ASGI app: ``/k8s/…`` HTTP and websocket scopes go to the proxy, the rest to
    ``portal_app``. Lifespan events are answered here (closing the proxy's connections on
    shutdown), since the Channels router does not take them."""
    from .app import KubeProxy

    proxy = KubeProxy()

    async def application(scope, receive, send):
        kind = scope["type"]
        if kind in ("http", "websocket") and scope["path"].startswith(PROXY_ROOT):
            return await proxy(scope, receive, send)
        if kind == "lifespan":
            return await _lifespan(proxy, receive, send)
        return await portal_app(scope, receive, send)

    application.proxy = proxy
    return application


async def _lifespan(proxy, receive, send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            proxy.audit_writer.start()  # stores rows a crashed process left in its spool
            # Django, DRF and the rest are loaded (~150,000 objects): a full collection over
            # them stalls every request in flight for 50-150 ms. Frozen, the collector scans
            # only what requests allocate.
            gc.collect()
            gc.freeze()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await proxy.close()
            await send({"type": "lifespan.shutdown.complete"})
            return
