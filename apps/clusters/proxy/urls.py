from django.urls import path

from .views import ClusterKubeconfigView

urlpatterns = [
    path(
        "clusters/<str:name>/kubeconfig",
        ClusterKubeconfigView.as_view(),
        name="cluster-kubeconfig",
    ),
]
