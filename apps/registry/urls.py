"""``/registry/token``: the token service of the Docker registry (apps.registry.views)."""

from django.urls import path

from . import views

urlpatterns = [path("registry/token", views.token_view, name="registry-token")]
