"""/api/v1/chart-groups/ and the charts and versions under a group."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from .views import ChartGroupViewSet, ChartVersionViewSet, ChartViewSet

router = SimpleRouter()
router.register("chart-groups", ChartGroupViewSet, basename="chartgroup")

GROUP = r"<str:group>"

urlpatterns = [
    *router.urls,
    path(
        f"chart-groups/{GROUP}/charts/",
        ChartViewSet.as_view({"get": "list"}),
        name="chart-list",
    ),
    path(
        f"chart-groups/{GROUP}/charts/<str:name>/",
        ChartViewSet.as_view({"get": "retrieve"}),
        name="chart-detail",
    ),
    path(
        f"chart-groups/{GROUP}/charts/<str:chart>/versions/",
        ChartVersionViewSet.as_view({"get": "list"}),
        name="chartversion-list",
    ),
    path(
        f"chart-groups/{GROUP}/charts/<str:chart>/versions/<str:version>/",
        ChartVersionViewSet.as_view({"get": "retrieve", "delete": "destroy"}),
        name="chartversion-detail",
    ),
]
