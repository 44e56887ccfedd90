"""/api/v1/projects/ (projects, …/quota/, …/members/, …/kubeconfig) and /api/v1/portal/."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from .projects import PortalView, ProjectKubeconfigView, ProjectMemberViewSet, ProjectViewSet

router = SimpleRouter()
router.register("projects", ProjectViewSet, basename="project")

P = "projects/<str:project>"
M = "<str:member>"

urlpatterns = [
    path("portal/", PortalView.as_view(), name="portal"),
    *router.urls,
    path(
        f"{P}/members/",
        ProjectMemberViewSet.as_view({"get": "list", "post": "create"}),
        name="project-member-list",
    ),
    path(
        f"{P}/members/{M}/",
        ProjectMemberViewSet.as_view(
            {"get": "retrieve", "put": "update", "patch": "partial_update", "delete": "destroy"}
        ),
        name="project-member-detail",
    ),
    path(
        "projects/<str:name>/kubeconfig",
        ProjectKubeconfigView.as_view(),
        name="project-kubeconfig",
    ),
]
