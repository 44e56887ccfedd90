"""The /api/v1/ router: each app contributes its routes from ``apps/<app>/api/urls.py``."""

from django.urls import include, path

app_name = "api"

urlpatterns = [
    path("", include("apps.tenants.api.urls")),
    path("", include("apps.accounts.api.urls")),
    path("", include("apps.audit.api.urls")),
    path("", include("apps.authz.api.urls")),
    path("", include("apps.clusters.api.urls")),
    path("", include("apps.projects.api.urls")),
    path("", include("apps.registry.api.urls")),
    path("", include("apps.charts.api.release_urls")),
    path("", include("apps.charts.api.urls")),
    path("", include("apps.monitoring.api.urls")),
    path("", include("apps.notify.api.urls")),
    path("", include("apps.clusters.proxy.urls")),
]
