"""Top-level URLs: console, admin, REST API (/api/v1/), OpenAPI, health."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularSwaggerSplitView

from apps.core import views as core_views
from apps.core.api.schema import SchemaView

urlpatterns = [
    path("", include("apps.accounts.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("apps.console.urls")),
    path("", include("apps.registry.urls")),
    path("", include("apps.charts.urls")),
    path("healthz", core_views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("tkeportal.api_urls")),
    path("api/schema/", SchemaView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as a file: no inline script, so the
    # page works under the Content-Security-Policy's script-src 'self'.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
]

handler400 = "apps.core.views.bad_request"
handler403 = "apps.core.views.permission_denied"
handler404 = "apps.core.views.not_found"
handler500 = "apps.core.views.server_error"
