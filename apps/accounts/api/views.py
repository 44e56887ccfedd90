from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Count, Prefetch
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.audit.choices import Outcome
from apps.authz.enforcer import effective_statements
from apps.core.api.viewsets import PortalCreateReadDeleteViewSet, PortalModelViewSet

from .. import reauth, services
from ..filtersets import UserFilterSet
from ..lockout import LockedOut
from ..models import APIKey, Group, IdentityProvider, User
from .serializers import (
    APIKeySerializer,
    GroupSerializer,
    IdentityProviderSerializer,
    MeSerializer,
    PasswordChangeSerializer,
    PasswordSerializer,
    ProbeReportSerializer,
    SyncQueuedSerializer,
    UserPermissionsSerializer,
    UserSerializer,
)

_USER_FIELDS = ("display_name", "email", "phone", "is_active", "is_tenant_admin")


class UserViewSet(PortalModelViewSet):
    """Users of the current tenant, addressed by username. Tenant administrators create,
    disable, enable, reset passwords and delete; everyone sees their own profile."""

    queryset = User.objects.select_related("tenant", "identity_provider")
    serializer_class = UserSerializer
    lookup_field = "username"
    lookup_value_regex = r"[a-z0-9][a-z0-9._@-]*"
    authz_kind = "User"
    authz_extra_actions = {
        "disable": "disableUser",
        "enable": "enableUser",
        "reset_password": "resetUserPassword",
        "permissions": "listUserPermissions",
        "sync": "syncUser",
    }
    owner_field = "self"
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
            is_tenant_admin=data.get("is_tenant_admin", False),
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

    def _set_active(self, active: bool):
        user = services.update_user(
            actor=self.request.user, user=self.get_object(), is_active=active
        )
        return Response(UserSerializer(user, context=self.get_serializer_context()).data)

    @extend_schema(request=None, responses=UserSerializer)
    @action(detail=True, methods=["post"])
    def disable(self, request, username=None):
        """Disable sign-in and every API key of the user."""
        return self._set_active(False)

    @extend_schema(request=None, responses=UserSerializer)
    @action(detail=True, methods=["post"])
    def enable(self, request, username=None):
        return self._set_active(True)

    @extend_schema(request=PasswordSerializer, responses={204: None})
    @action(detail=True, methods=["post"], url_path="reset-password")
    def reset_password(self, request, username=None):
        """Set a local user's password: they must change it at their next sign-in, their
        sessions end now (API keys keep working) and their sign-in lockout is cleared."""
        user = self.get_object()
        body = PasswordSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.set_password(
            actor=request.user, user=user, password=body.validated_data["password"]
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses=UserSerializer)
    @action(detail=True, methods=["post"])
    def sync(self, request, username=None):
        """Ask the user's identity provider about them now: presence, profile, groups and
        administrator status (LDAP; an OIDC user is checked with their refresh grant)."""
        user = services.sync_user(actor=request.user, user=self.get_object())
        return Response(UserSerializer(user, context=self.get_serializer_context()).data)

    @extend_schema(
        parameters=[OpenApiParameter("project", str, description="a project id, e.g. prj-web")],
        responses=UserPermissionsSerializer,
    )
    @action(detail=True, methods=["get"])
    def permissions(self, request, username=None):
        """The user's effective permissions: every statement they hold and through what."""
        user = self.get_object()
        project = request.query_params.get("project") or None
        return Response(
            {
                "user": user.username,
                "project": project,
                "platform_administrator": user.is_superuser,
                "statements": effective_statements(user, project),
            }
        )


class GroupViewSet(PortalModelViewSet):
    """Groups of users in the tenant; policies bound to a group apply to its members."""

    queryset = Group.objects.prefetch_related(
        Prefetch("members", queryset=User.objects.only("id", "username"))
    ).select_related("tenant")
    serializer_class = GroupSerializer
    lookup_field = "name"
    authz_kind = "Group"
    search_fields = ["name", "display_name"]
    ordering_fields = ["name", "created_at"]

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.create_group(
            actor=self.request.user,
            tenant=self.tenant_for_write(),
            name=data["name"],
            display_name=data.get("display_name", ""),
            description=data.get("description", ""),
            members=data.get("members", ()),
        )

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        data.pop("name", None)
        serializer.instance = services.update_group(
            actor=self.request.user, group=serializer.instance, **data
        )

    def perform_destroy(self, instance):
        services.delete_group(actor=self.request.user, group=instance)


class IdentityProviderViewSet(PortalModelViewSet):
    """How the tenant's users sign in: local accounts, LDAP directories, OpenID Connect
    providers. Only tenant administrators change them; secrets are write-only. ``test``
    probes the connection step by step; ``sync`` queues an LDAP directory sync."""

    queryset = IdentityProvider.objects.select_related("tenant").annotate(user_count=Count("users"))
    serializer_class = IdentityProviderSerializer
    lookup_field = "name"
    authz_kind = "IdentityProvider"
    authz_extra_actions = {"test": "testIdentityProvider", "sync": "syncIdentityProvider"}
    filterset_fields = ["type", "enabled"]
    search_fields = ["name", "display_name"]
    ordering_fields = ["priority", "name", "created_at"]

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.create_identity_provider(
            actor=self.request.user,
            tenant=self.tenant_for_write(),
            name=data["name"],
            type=data["type"],
            display_name=data.get("display_name", ""),
            enabled=data.get("enabled", True),
            priority=data.get("priority", 100),
            config=data.get("config") or {},
            secret=data.get("secret", ""),
        )

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        for name in ("name", "type", "tenant"):
            data.pop(name, None)
        serializer.instance = services.update_identity_provider(
            actor=self.request.user, provider=serializer.instance, **data
        )

    def perform_destroy(self, instance):
        services.delete_identity_provider(actor=self.request.user, provider=instance)

    @extend_schema(request=None, responses=ProbeReportSerializer)
    @action(detail=True, methods=["post"])
    def test(self, request, name=None):
        """Probe the provider step by step (DNS, TCP, TLS, then bind and search for LDAP or
        discovery and keys for OIDC); the first failing step says exactly what failed."""
        report = services.test_identity_provider(actor=request.user, provider=self.get_object())
        return Response(report)

    @extend_schema(request=None, responses={202: SyncQueuedSerializer})
    @action(detail=True, methods=["post"])
    def sync(self, request, name=None):
        """Queue a sync of every user of an LDAP directory (presence, profile, groups)."""
        task_id = services.sync_identity_provider(actor=request.user, provider=self.get_object())
        return Response({"task_id": task_id}, status=status.HTTP_202_ACCEPTED)


class APIKeyViewSet(PortalCreateReadDeleteViewSet):
    """API keys. Everyone manages their own; administrators see and revoke the tenant's.
    The key is shown once, in the create response. Acting on someone else's key needs at
    least what its owner holds; a key someone else disabled stays disabled for its owner."""

    queryset = APIKey.objects.select_related("user", "disabled_by", "cluster")
    serializer_class = APIKeySerializer
    authz_kind = "APIKey"
    authz_extra_actions = {"disable": "disableAPIKey", "enable": "enableAPIKey"}
    owner_field = "user"
    self_create = True

    def authz_resource_path(self) -> str:
        # Keys live under their owner: user:<name>/apikey:<prefix>.
        lookup = self.kwargs.get("pk")
        return f"user:*/apikey:{lookup or '*'}"

    filterset_fields = ["disabled"]
    ordering_fields = ["created_at", "expires_at", "last_used_at"]

    def perform_create(self, serializer):
        # A browser session must be recent to mint a credential (apps.accounts.reauth).
        reauth.require_recent_sign_in(self.request)
        data = serializer.validated_data
        auth = self.request.auth
        key, plaintext = services.create_api_key(
            actor=self.request.user,
            user=self.request.user,
            expires_in=data["expires_in"],
            description=data.get("description", ""),
            # Created with a key: the new one may not outlive (or out-reach) it.
            parent=auth if isinstance(auth, APIKey) else None,
        )
        key.plaintext = plaintext
        serializer.instance = key

    def perform_destroy(self, instance):
        services.delete_api_key(actor=self.request.user, key=instance)

    def _set_disabled(self, disabled: bool):
        key = services.set_api_key_disabled(
            actor=self.request.user, key=self.get_object(), disabled=disabled
        )
        return Response(APIKeySerializer(key, context=self.get_serializer_context()).data)

    @extend_schema(request=None, responses=APIKeySerializer)
    @action(detail=True, methods=["post"])
    def disable(self, request, pk=None):
        return self._set_disabled(True)

    @extend_schema(request=None, responses=APIKeySerializer)
    @action(detail=True, methods=["post"])
    def enable(self, request, pk=None):
        return self._set_disabled(False)


class MeView(generics.RetrieveAPIView):
    """The signed-in user (whoever the session or API key belongs to)."""

    authz_doc = "any signed-in user (own profile)"

    serializer_class = MeSerializer

    @extend_schema(operation_id="me_retrieve")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_object(self):
        return self.request.user


class MePasswordView(APIView):
    """Change your own password: ``{old_password, new_password}`` → 204. The current password
    is checked like a sign-in (failures count towards the sign-in lockout: 429
    ``sign_in_locked`` while locked); the new one must pass the password policy. Your other
    sessions end; the one making the request stays signed in. Directory (LDAP, OIDC) users
    change their password in their directory."""

    authz_doc = "any signed-in user (own password)"

    @extend_schema(request=PasswordChangeSerializer, responses={204: None})
    def post(self, request):
        body = PasswordChangeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        raw = request._request
        outcome, message = Outcome.SUCCESS, "password changed; other sessions ended"
        try:
            services.change_own_password(
                actor=request.user,
                request=request,
                old_password=body.validated_data["old_password"],
                new_password=body.validated_data["new_password"],
            )
        except LockedOut as exc:
            outcome, message = Outcome.DENIED, str(exc.detail)
            raise
        except DjangoValidationError as exc:
            # A wrong current password is a refusal; a new one the policy rejects a failure.
            wrong = "old_password" in exc.message_dict
            outcome = Outcome.DENIED if wrong else Outcome.FAILURE
            message = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
            raise
        finally:
            # Named after the check (a wrong current password has named it auth.login_failed).
            raw.audit_action = "auth.password_change"
            raw.audit_resource = request.user.authz_resource
            raw.audit_user = request.user
            raw.audit_outcome, raw.audit_message = outcome, message
        return Response(status=status.HTTP_204_NO_CONTENT)
