"""Console routes of the config area (``apps/console/routes/__init__.py``).

The forms for Services, Ingresses, ConfigMaps, Secrets, Namespaces and HPAs are served by
the generic object-form routes (``console:form-new`` / ``console:form-edit``) through the
form registry (``apps/console/forms/network.py``, ``config.py``); this module adds what
those forms load on their own: the workloads an HPA may scale in a namespace.
"""

from __future__ import annotations

from django.urls import path

from ..views import config

urlpatterns: list = [
    path(
        "clusters/<str:cluster>/hpa-targets/",
        config.HPATargetsView.as_view(),
        name="config-hpa-targets",
    ),
]
NAV: list = []
CLUSTER_TABS: list = []
