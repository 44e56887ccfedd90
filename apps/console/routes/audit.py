"""Console routes and menu entries of this area (``apps/console/routes/__init__.py``):
the audit trail."""

from __future__ import annotations

from django.urls import path
from django.utils.translation import gettext_lazy as _

from ..nav import Entry, Section
from ..views import audit

urlpatterns = [
    path("audit/", audit.AuditListView.as_view(), name="audit"),
    path("audit/export.csv", audit.AuditExportView.as_view(), name="audit-export"),
    path("audit/<int:pk>/", audit.AuditEventView.as_view(), name="audit-event"),
]
NAV = [
    Section(
        "audit",
        _("Audit"),
        (
            Entry(
                _("Audit events"),
                "console:audit",
                "listAuditEvents",
                icon="journal-text",
                also=("console:audit-*",),
            ),
        ),
    )
]
CLUSTER_TABS: list = []
