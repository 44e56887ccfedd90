"""``/api/v1/registry/namespaces/``: a tenant's image namespaces.

Authorization (``manage.py authz_actions``): ``listRegistryNamespaces``,
``getRegistryNamespace``, ``createRegistryNamespace``, ``updateRegistryNamespace``,
``deleteRegistryNamespace`` on ``registrynamespace:<name>``; other tenants' namespaces are 404.
"""

from __future__ import annotations

from django.db.models import Count, Sum

from apps.core.api.viewsets import PortalModelViewSet

from .. import services
from ..filtersets import RegistryNamespaceFilterSet
from ..models import RegistryNamespace
from .serializers import RegistryNamespaceSerializer


class RegistryNamespaceViewSet(PortalModelViewSet):
    """Image namespaces of the tenant: public ones anyone may pull from, private ones whom
    policy allows (the token service decides, ``/registry/token``)."""

    queryset = RegistryNamespace.objects.select_related("tenant", "project").annotate(
        repository_total=Count("repositories"), storage_used=Sum("repositories__size")
    )
    serializer_class = RegistryNamespaceSerializer
    lookup_field = "name"
    lookup_value_regex = r"[a-z0-9._-]+"
    authz_kind = "RegistryNamespace"
    filterset_class = RegistryNamespaceFilterSet
    search_fields = ["name", "display_name", "description"]
    ordering_fields = ["name", "created_at", "visibility"]

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        name = data.pop("name")
        serializer.instance = services.create_namespace(
            actor=self.request.user, tenant=self.tenant_for_write(), name=name, **data
        )
        self.request._request.audit_resource = serializer.instance.authz_resource

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        data.pop("name", None)
        serializer.instance = services.update_namespace(
            actor=self.request.user, namespace=serializer.instance, **data
        )

    def perform_destroy(self, instance):
        services.delete_namespace(actor=self.request.user, namespace=instance)
