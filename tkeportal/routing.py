"""Websocket routes. Apps append their consumers here (webtty, live logs, live updates)."""

websocket_urlpatterns: list = []
