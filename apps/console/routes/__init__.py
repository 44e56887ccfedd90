"""The console's pages, one module per area, so each area owns its routes and menu entries.

Every module here defines:

- ``urlpatterns``: its routes (joined into the ``console`` namespace by ``apps/console/urls.py``);
- ``NAV``: the platform-menu sections it adds (``nav.Section``), shown in ``AREAS`` order;
- ``CLUSTER_TABS``: the entries it adds to a cluster's page tabs (``nav.Entry`` whose url name
  takes the ``cluster`` keyword), in ``AREAS`` order.
"""

from __future__ import annotations

import importlib

# The order of the platform menu and of a cluster's tabs.
AREAS = (
    "clusters",
    "workloads",
    "config",
    "projects",
    "registry",
    "charts",
    "notify",
    "access",
    "alerts",
    "audit",
    "terminal",
)


def modules():
    return [importlib.import_module(f"{__name__}.{area}") for area in AREAS]
