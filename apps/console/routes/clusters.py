"""Console routes and menu entries of this area (``apps/console/routes/__init__.py``): the
cluster list, a cluster's page and its Kubernetes pages (nodes, namespaces, pods, the other
kinds and custom resources)."""

from __future__ import annotations

from django.urls import path, re_path
from django.utils.translation import gettext_lazy as _

from .. import nav
from ..views import clusters as views
from ..views import kube

C = "clusters/<str:cluster>"
# Only the kinds listed here (and CRD plurals, which hold a dot): other areas' pages under
# clusters/<cluster>/… (workloads, forms) stay theirs.
_KIND = r"(?P<kind>" + "|".join(kube.LISTED) + r"|[a-z0-9-]+(?:\.[a-z0-9-]+)+)"
# Kubernetes names as the API's routes take them: a wildcard or an odd segment never reaches
# a decision or the cluster.
_DNS_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_NAME = r"(?P<name>[a-z0-9]([-a-z0-9.]*[a-z0-9])?)"
_NAMESPACE = rf"(?P<namespace>{_DNS_LABEL})"
_CLUSTER = r"^clusters/(?P<cluster>[^/]+)"


def _kind(plural: str):
    return kube.KindListView.as_view(fixed_kind=plural)


urlpatterns = [
    path("clusters/", views.ClustersView.as_view(), name="clusters"),
    path(f"{C}/", views.ClusterView.as_view(), name="cluster"),
    path(f"{C}/health-check/", views.ClusterHealthView.as_view(), name="cluster-health"),
    path(f"{C}/rotate-credential/", views.ClusterRotateView.as_view(), name="cluster-rotate"),
    path(f"{C}/nodes/", views.NodesView.as_view(), name="nodes"),
    re_path(rf"{_CLUSTER}/nodes/{_NAME}/$", views.NodeView.as_view(), name="node"),
    re_path(rf"{_CLUSTER}/nodes/{_NAME}/shell/$", views.NodeShellView.as_view(), name="node-shell"),
    re_path(
        rf"{_CLUSTER}/nodes/{_NAME}/(?P<op>cordon|uncordon|drain)/$",
        views.NodeOperationView.as_view(),
        name="node-op",
    ),
    path(f"{C}/namespaces/", kube.NamespacesView.as_view(), name="namespaces"),
    path(f"{C}/pods/", kube.PodsView.as_view(), name="pods"),
    re_path(
        rf"{_CLUSTER}/namespaces/{_NAMESPACE}/pods/{_NAME}/$", kube.PodView.as_view(), name="pod"
    ),
    # The tabs (a tab's URL takes the cluster only); the same pages as kind-list's.
    path(f"{C}/services/", _kind("services"), name="services"),
    path(f"{C}/ingresses/", _kind("ingresses"), name="ingresses"),
    path(f"{C}/configmaps/", _kind("configmaps"), name="configmaps"),
    path(f"{C}/secrets/", _kind("secrets"), name="secrets"),
    path(f"{C}/persistentvolumeclaims/", _kind("persistentvolumeclaims"), name="storage"),
    path(f"{C}/horizontalpodautoscalers/", _kind("horizontalpodautoscalers"), name="hpas"),
    path(f"{C}/events/", _kind("events"), name="events"),
    path(f"{C}/customresources/", kube.CustomResourcesView.as_view(), name="crds"),
    re_path(rf"{_CLUSTER}/{_KIND}/$", kube.KindListView.as_view(), name="kind-list"),
    re_path(
        rf"{_CLUSTER}/namespaces/(?P<namespace>-|{_DNS_LABEL})/{_KIND}/{_NAME}/$",
        kube.ObjectView.as_view(),
        name="object",
    ),
]

NAV = [
    nav.Section(
        "clusters",
        _("Clusters"),
        (
            nav.Entry(
                _("Clusters"),
                "console:clusters",
                "listClusters",
                "clusters.Cluster",
                icon="hdd-network",
                also=("console:cluster", "console:cluster-*", "console:node*", "console:pod*"),
            ),
        ),
    )
]

_NS_MODEL = "projects.ProjectNamespace"
CLUSTER_TABS = [
    nav.Entry(_("Overview"), "console:cluster", "getCluster", "clusters.Cluster"),
    nav.Entry(
        _("Nodes"),
        "console:nodes",
        "listNodes",
        also=("console:node", "console:node-op", "console:node-shell"),
    ),
    nav.Entry(_("Namespaces"), "console:namespaces", "listNamespaces", _NS_MODEL),
    nav.Entry(_("Pods"), "console:pods", "listPods", _NS_MODEL, also=("console:pod",)),
    nav.Entry(_("Services"), "console:services", "listServices", _NS_MODEL),
    nav.Entry(_("Ingresses"), "console:ingresses", "listIngresses", _NS_MODEL),
    nav.Entry(_("ConfigMaps"), "console:configmaps", "listConfigMaps", _NS_MODEL),
    nav.Entry(_("Secrets"), "console:secrets", "listSecrets", _NS_MODEL),
    nav.Entry(_("Storage"), "console:storage", "listPersistentVolumeClaims", _NS_MODEL),
    nav.Entry(_("HPA"), "console:hpas", "listHorizontalPodAutoscalers", _NS_MODEL),
    nav.Entry(_("Events"), "console:events", "listEvents", _NS_MODEL),
    nav.Entry(_("Custom resources"), "console:crds", "listCustomResourceDefinitions"),
]
