"""/api/v1/projects/… and /api/v1/portal/: projects, quotas and members (project_urls), project
namespaces, their moves and imports (namespace_urls)."""

from django.urls import include, path

urlpatterns = [
    path("", include("apps.projects.api.project_urls")),
    path("", include("apps.projects.api.namespace_urls")),
]
