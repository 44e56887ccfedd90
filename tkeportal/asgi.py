"""ASGI entry point: HTTP through Django, websockets through Channels consumers, and
``/k8s/`` (HTTP and websocket) through the kubectl proxy, ahead of both."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tkeportal.settings.dev")
# Django must be set up before anything imports models (consumers, auth middleware).
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from apps.clusters.proxy import mount  # noqa: E402
from apps.core.websocket import OriginValidator  # noqa: E402
from tkeportal.routing import websocket_urlpatterns  # noqa: E402

portal = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # The portal's origin rule: a session cookie only from the portal's own hosts; a
        # socket without Origin nor session cookie (an API-key client) authenticates itself.
        "websocket": OriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)

application = mount(portal)
