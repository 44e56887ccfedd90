"""/api/v1/projects/<project>/namespaces/…: a project's namespaces (api/namespaces.py).

``…/namespaces/``                                GET list, POST create
``…/namespaces/import/``                         POST import an existing namespace
``…/namespaces/<cluster>/<namespace>/``          GET, PATCH (hard), DELETE
``…/namespaces/<cluster>/<namespace>/delete-preview/``   GET
``…/namespaces/<cluster>/<namespace>/move/``     POST {"destination": "prj-…"}
"""

from django.urls import path, register_converter

from .namespaces import ProjectNamespaceViewSet


class _Converter:
    regex = ""

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value


class ProjectName(_Converter):
    regex = r"prj-[a-z0-9]([a-z0-9-]{0,58}[a-z0-9])?"


class ClusterName(_Converter):
    regex = r"cls-[a-z0-9]+"


class NamespaceName(_Converter):
    regex = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"


register_converter(ProjectName, "pnsproject")
register_converter(ClusterName, "pnscluster")
register_converter(NamespaceName, "pnsname")

P = "projects/<pnsproject:project>/namespaces"
ONE = f"{P}/<pnscluster:cluster>/<pnsname:namespace>"
V = ProjectNamespaceViewSet

urlpatterns = [
    path(f"{P}/", V.as_view({"get": "list", "post": "create"}), name="projectnamespace-list"),
    path(
        f"{P}/import/",
        V.as_view({"post": "import_namespace"}),
        name="projectnamespace-import",
    ),
    path(
        f"{ONE}/",
        V.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"}),
        name="projectnamespace-detail",
    ),
    path(
        f"{ONE}/delete-preview/",
        V.as_view({"get": "delete_preview"}),
        name="projectnamespace-delete-preview",
    ),
    path(f"{ONE}/move/", V.as_view({"post": "move"}), name="projectnamespace-move"),
]
