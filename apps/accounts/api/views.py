from drf_spectacular.utils import extend_schema
from rest_framework import generics

from apps.core.api.viewsets import PortalModelViewSet

from .. import services
from ..filtersets import UserFilterSet
from ..models import User
from .serializers import MeSerializer, UserSerializer

_USER_FIELDS = ("display_name", "email", "phone", "is_active", "is_staff")


class UserViewSet(PortalModelViewSet):
    """Users of the current tenant, addressed by username."""

    queryset = User.objects.select_related("tenant")
    serializer_class = UserSerializer
    lookup_field = "username"
    lookup_value_regex = r"[a-z0-9][a-z0-9._@-]*"
    authz_kind = "User"
    filterset_class = UserFilterSet
    search_fields = ["username", "display_name", "email"]
    ordering_fields = ["username", "date_joined", "last_login"]

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.create_user(
            actor=self.request.user,
            tenant=self.tenant_for_write(),
            username=data["username"],
            password=data.get("password"),
            email=data.get("email", ""),
            display_name=data.get("display_name", ""),
            phone=data.get("phone", ""),
            is_tenant_admin=data.get("is_staff", False),
        )

    def perform_update(self, serializer):
        data = serializer.validated_data
        user = services.update_user(
            actor=self.request.user,
            user=serializer.instance,
            **{k: v for k, v in data.items() if k in _USER_FIELDS},
        )
        if data.get("password"):
            services.set_password(actor=self.request.user, user=user, password=data["password"])
        serializer.instance = user

    def perform_destroy(self, instance):
        services.delete_user(actor=self.request.user, user=instance)


class MeView(generics.RetrieveAPIView):
    """The signed-in user (whoever the session or API key belongs to)."""

    serializer_class = MeSerializer

    @extend_schema(operation_id="me_retrieve")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_object(self):
        return self.request.user
