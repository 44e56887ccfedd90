"""Routes of the releases API (included in tkeportal/api_urls.py)."""

from django.urls import path

from .releases import ReleaseViewSet

NS = "clusters/<str:cluster>/namespaces/<str:namespace>/releases"
NAME = "<str:name>"

urlpatterns = [
    path(
        f"{NS}/",
        ReleaseViewSet.as_view({"get": "list", "post": "create"}),
        name="release-list",
    ),
    path(
        f"{NS}/{NAME}/",
        ReleaseViewSet.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"}),
        name="release-detail",
    ),
    path(
        f"{NS}/{NAME}/upgrade/",
        ReleaseViewSet.as_view({"post": "upgrade"}),
        name="release-upgrade",
    ),
    path(
        f"{NS}/{NAME}/rollback/",
        ReleaseViewSet.as_view({"post": "rollback"}),
        name="release-rollback",
    ),
    path(
        f"{NS}/{NAME}/manifest/",
        ReleaseViewSet.as_view({"get": "manifest"}),
        name="release-manifest",
    ),
]
