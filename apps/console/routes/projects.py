"""Console routes and menu entries of this area (``apps/console/routes/__init__.py``): the
projects list, a project's page and the actions on it (POST only)."""

from __future__ import annotations

from django.urls import path
from django.utils.translation import gettext_lazy as _

from ..nav import Entry, Section
from ..views import projects as views

P = "projects/<str:project>"
NS = f"{P}/namespaces/<str:cluster>/<str:namespace>"

urlpatterns: list = [
    path("projects/", views.ProjectListView.as_view(), name="projects"),
    path(f"{P}/", views.ProjectView.as_view(), name="project"),
    path(f"{P}/namespaces/", views.NamespaceCreateView.as_view(), name="project-namespace-create"),
    path(f"{NS}/delete/", views.NamespaceDeleteView.as_view(), name="project-namespace-delete"),
    path(f"{NS}/move/", views.NamespaceMoveView.as_view(), name="project-namespace-move"),
    path(f"{P}/members/", views.MemberAddView.as_view(), name="project-member-add"),
    path(
        f"{P}/members/<str:member>/",
        views.MemberUpdateView.as_view(),
        name="project-member-update",
    ),
    path(
        f"{P}/members/<str:member>/remove/",
        views.MemberRemoveView.as_view(),
        name="project-member-remove",
    ),
    path(f"{P}/kubeconfig/", views.KubeconfigView.as_view(), name="project-kubeconfig"),
]
NAV: list = [
    Section(
        "projects",
        _("Projects"),
        (
            Entry(
                _("Projects"),
                "console:projects",
                "listProjects",
                "projects.Project",
                icon="folder",
                also=("console:project", "console:project-*"),
            ),
        ),
    )
]
CLUSTER_TABS: list = []
