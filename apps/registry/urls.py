"""``/registry/token``: the token service of the Docker registry; ``/registry/events``: its
notifications (apps.registry.views)."""

from django.urls import path

from . import views

urlpatterns = [
    path("registry/token", views.token_view, name="registry-token"),
    path("registry/events", views.events_view, name="registry-events"),
]
