"""Console routes and menu entries of this area (``apps/console/routes/__init__.py``): image
namespaces, their repositories and tags."""

from __future__ import annotations

from django.urls import path
from django.utils.translation import gettext_lazy as _

from ..nav import Entry, Section
from ..views import registry as views

NS = "registry/namespaces/<str:namespace>"

urlpatterns: list = [
    path("registry/namespaces/", views.NamespaceListView.as_view(), name="registry-namespaces"),
    path(
        "registry/namespaces/new/",
        views.NamespaceFormView.as_view(),
        name="registry-namespace-create",
    ),
    path(f"{NS}/", views.NamespaceView.as_view(), name="registry-namespace"),
    path(
        f"{NS}/edit/",
        views.NamespaceFormView.as_view(creating=False),
        name="registry-namespace-edit",
    ),
    path(f"{NS}/delete/", views.NamespaceDeleteView.as_view(), name="registry-namespace-delete"),
    # A repository name may hold "/": it ends the URL.
    path(
        f"{NS}/repositories/<path:repository>",
        views.RepositoryView.as_view(),
        name="registry-repository",
    ),
]
NAV: list = [
    Section(
        "registry",
        _("Registry"),
        (
            Entry(
                _("Images"),
                "console:registry-namespaces",
                "listRegistryNamespaces",
                icon="box-seam",
                also=(
                    "console:registry-namespace",
                    "console:registry-namespace-*",
                    "console:registry-repository*",
                ),
            ),
        ),
    )
]
CLUSTER_TABS: list = []
