"""``/chart/``: the ChartMuseum-compatible chart repositories (apps.charts.views). The API's
routes come first; they have one more segment than the repository's own, so a tenant named
``api`` still has its index and archives (only its group named ``charts`` would be shadowed
by ``/chart/api/<tenant>/charts/…``, which the API answers)."""

from django.urls import re_path

from . import views

NAME = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
GROUP = r"[a-z0-9]+(?:[._-][a-z0-9]+)*"
TENANT = r"[a-z0-9-]+"

urlpatterns = [
    re_path(
        rf"^chart/api/(?P<tenant>{TENANT})/(?P<group>{GROUP})/charts$",
        views.api_charts_view,
        name="chart-api-charts",
    ),
    re_path(
        rf"^chart/api/(?P<tenant>{TENANT})/(?P<group>{GROUP})/prov$",
        views.api_prov_view,
        name="chart-api-prov",
    ),
    re_path(
        rf"^chart/api/(?P<tenant>{TENANT})/(?P<group>{GROUP})/charts/(?P<name>[^/]+)$",
        views.api_chart_view,
        name="chart-api-chart",
    ),
    re_path(
        rf"^chart/api/(?P<tenant>{TENANT})/(?P<group>{GROUP})/charts/(?P<name>[^/]+)/"
        r"(?P<version>[^/]+)$",
        views.api_version_view,
        name="chart-api-version",
    ),
    re_path(
        rf"^chart/(?P<tenant>{TENANT})/(?P<group>{GROUP})/index\.yaml$",
        views.index_view,
        name="chart-index",
    ),
    re_path(
        rf"^chart/(?P<tenant>{TENANT})/(?P<group>{GROUP})/charts/(?P<filename>[^/]+)$",
        views.download_view,
        name="chart-download",
    ),
]
