from django.urls import path, register_converter
from rest_framework.routers import SimpleRouter

from ..resources import KINDS
from .resources import (
    ApplyViewSet,
    ClusterResourceViewSet,
    NodeOperationViewSet,
    OverviewViewSet,
    WorkloadOperationViewSet,
)
from .views import ClusterViewSet


def _converter(pattern: str) -> type:
    """A path converter matching ``pattern`` and passing the text through."""
    return type(
        "Converter",
        (),
        {"regex": pattern, "to_python": lambda self, v: v, "to_url": lambda self, v: v},
    )


# Kubernetes object names (DNS subdomains) and API groups share one shape.
_DNS_NAME = r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?"
register_converter(_converter("|".join(sorted(KINDS, key=len, reverse=True))), "kind")
register_converter(_converter(_DNS_NAME), "kname")
register_converter(_converter(_DNS_NAME), "group")
register_converter(_converter(r"v[0-9]+(alpha[0-9]+|beta[0-9]+)?"), "version")

router = SimpleRouter()
router.register("clusters", ClusterViewSet, basename="cluster")

_collection = ClusterResourceViewSet.as_view({"get": "list", "post": "create"})
_object = ClusterResourceViewSet.as_view({"get": "retrieve", "put": "update", "delete": "destroy"})
C = "clusters/<str:cluster>"
NS = f"{C}/namespaces/<kname:namespace>"
CR = "<group:group>/<version:version>/<kname:plural>"


def _op(name, method="post"):
    return WorkloadOperationViewSet.as_view({method: name})


def _node(name):
    return NodeOperationViewSet.as_view({"post": name})


urlpatterns = [
    path("clusters/overview/", OverviewViewSet.as_view({"get": "list"}), name="cluster-overview"),
    *router.urls,
    path(f"{C}/apply/", ApplyViewSet.as_view({"post": "apply"}), name="cluster-apply"),
    path(f"{C}/nodes/<kname:name>/cordon/", _node("cordon"), name="node-cordon"),
    path(f"{C}/nodes/<kname:name>/uncordon/", _node("uncordon"), name="node-uncordon"),
    path(f"{C}/nodes/<kname:name>/drain/", _node("drain"), name="node-drain"),
    path(f"{NS}/<kind:kind>/", _collection, name="resource-namespaced-list"),
    path(f"{NS}/<kind:kind>/<kname:name>/", _object, name="resource-namespaced-detail"),
    path(f"{NS}/<kind:kind>/<kname:name>/scale/", _op("scale"), name="resource-scale"),
    path(f"{NS}/<kind:kind>/<kname:name>/restart/", _op("restart"), name="resource-restart"),
    path(
        f"{NS}/<kind:kind>/<kname:name>/revisions/",
        _op("revisions", "get"),
        name="resource-revisions",
    ),
    path(f"{NS}/<kind:kind>/<kname:name>/rollback/", _op("rollback"), name="resource-rollback"),
    path(f"{NS}/<kind:kind>/<kname:name>/log/", _op("log", "get"), name="resource-log"),
    path(f"{NS}/<kind:kind>/<kname:name>/events/", _op("events", "get"), name="resource-events"),
    path(f"{NS}/custom/{CR}/", _collection, name="custom-namespaced-list"),
    path(f"{NS}/custom/{CR}/<kname:name>/", _object, name="custom-namespaced-detail"),
    path(f"{C}/custom/{CR}/", _collection, name="custom-list"),
    path(f"{C}/custom/{CR}/<kname:name>/", _object, name="custom-detail"),
    path(f"{C}/<kind:kind>/", _collection, name="resource-list"),
    path(f"{C}/<kind:kind>/<kname:name>/", _object, name="resource-detail"),
    path(
        f"{C}/<kind:kind>/<kname:name>/events/",
        _op("events", "get"),
        name="resource-cluster-events",
    ),
]
