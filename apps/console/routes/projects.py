"""Console routes and menu entries of this area (``apps/console/routes/__init__.py``)."""

from __future__ import annotations

urlpatterns: list = []
NAV: list = []
CLUSTER_TABS: list = []
