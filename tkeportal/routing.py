"""Websocket routes. Apps append their consumers here (webtty, live logs, live updates)."""

from apps.terminal.routing import websocket_urlpatterns as terminal_urlpatterns

websocket_urlpatterns: list = [*terminal_urlpatterns]
