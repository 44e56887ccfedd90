from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.models import User
from apps.core.api.viewsets import PortalCreateReadDeleteViewSet, PortalModelViewSet
from apps.tenants.scope import resolve_scope

from .. import enforcer, services
from ..models import Binding, Policy, Role
from .serializers import (
    BindingSerializer,
    CheckRequestSerializer,
    DecisionSerializer,
    PolicySerializer,
    RoleSerializer,
)


class PolicyViewSet(PortalModelViewSet):
    """Policies: statements of actions × resources with an effect. Predefined policies are
    read-only."""

    queryset = Policy.objects.select_related("tenant")
    serializer_class = PolicySerializer
    lookup_field = "name"
    authz_kind = "Policy"
    filterset_fields = ["scope", "predefined", "category"]
    search_fields = ["name", "display_name", "description"]
    ordering_fields = ["name", "created_at"]

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.create_policy(
            actor=self.request.user,
            tenant=self.tenant_for_write(),
            name=data["name"],
            statements=data["statements"],
            display_name=data.get("display_name", ""),
            description=data.get("description", ""),
            scope=data.get("scope", "platform"),
            category=data.get("category", ""),
        )

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        data.pop("name", None)
        serializer.instance = services.update_policy(
            actor=self.request.user, policy=serializer.instance, **data
        )

    def perform_destroy(self, instance):
        services.delete_policy(actor=self.request.user, policy=instance)


class RoleViewSet(PortalModelViewSet):
    """Roles: sets of policies bound as one."""

    queryset = Role.objects.select_related("tenant").prefetch_related("policies")
    serializer_class = RoleSerializer
    lookup_field = "name"
    authz_kind = "Role"
    search_fields = ["name", "display_name"]
    ordering_fields = ["name", "created_at"]

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.create_role(
            actor=self.request.user,
            tenant=self.tenant_for_write(),
            name=data["name"],
            policies=data.get("policies", ()),
            display_name=data.get("display_name", ""),
            description=data.get("description", ""),
        )

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        data.pop("name", None)
        serializer.instance = services.update_role(
            actor=self.request.user, role=serializer.instance, **data
        )

    def perform_destroy(self, instance):
        services.delete_role(actor=self.request.user, role=instance)


class BindingViewSet(PortalCreateReadDeleteViewSet):
    """Bindings give a user or group a policy or role, platform-wide (domain ``*``) or in a
    project. Nobody can bind what they do not hold."""

    queryset = Binding.objects.select_related("tenant", "user", "group", "policy", "role")
    serializer_class = BindingSerializer
    authz_kind = "Binding"
    filterset_fields = ["domain"]
    ordering_fields = ["id", "created_at"]

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.create_binding(
            actor=self.request.user,
            tenant=self.tenant_for_write(),
            user=data.get("user"),
            group=data.get("group"),
            policy=data.get("policy"),
            role=data.get("role"),
            domain=data.get("domain", "*"),
        )

    def perform_destroy(self, instance):
        services.delete_binding(actor=self.request.user, binding=instance)


# Asking about another user names them: an unknown name (or another tenant's) is 404.
_DECISION_RESPONSES = {
    200: DecisionSerializer,
    404: OpenApiResponse(description="No user of that name in your tenant."),
}


class _DecisionView(APIView):
    """Shared by check and explain: whose decision, and may the caller ask about them."""

    explain = False
    authz_doc = "own: any user; others: explainAuthz on user:<name>"

    def decide(self, request, params: dict):
        body = CheckRequestSerializer(data=params)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        subject = request.user
        if data.get("user"):
            scope = resolve_scope(request)
            subject = User.objects.in_scope(scope).filter(username=data["user"]).first()
            if subject is None:
                raise exceptions.NotFound(f"User '{data['user']}' not found.")
            if subject.pk != request.user.pk:
                allowed = enforcer.check(
                    request.user, "explainAuthz", subject.authz_resource, tenant=subject.tenant
                )
                if not allowed:
                    raise exceptions.PermissionDenied(
                        "You may only check your own permissions: explainAuthz on "
                        f"{subject.authz_resource} is not allowed ({allowed.reason})."
                    )
        project = data.get("project") or None
        tenant = subject.tenant if subject.tenant_id else None
        decide = enforcer.explain if self.explain else enforcer.check
        decision = decide(subject, data["action"], data["resource"], tenant=tenant, project=project)
        result = {
            "allowed": decision.allowed,
            "reason": decision.reason,
            "user": subject.username,
            "action": data["action"],
            "resource": data["resource"],
            "project": project,
        }
        if self.explain:
            result["matched"] = decision.matched
        return Response(DecisionSerializer(result).data)


class AuthzCheckView(_DecisionView):
    """Is an action allowed? For yourself, or (with explainAuthz) for a user of your tenant."""

    @extend_schema(request=CheckRequestSerializer, responses=_DECISION_RESPONSES)
    def post(self, request):
        return self.decide(request, request.data)


class AuthzExplainView(_DecisionView):
    """Like check, listing the rules and bindings that decided it."""

    explain = True

    @extend_schema(
        parameters=[
            OpenApiParameter("action", str, required=True),
            OpenApiParameter("resource", str, required=True),
            OpenApiParameter("project", str),
            OpenApiParameter("user", str),
        ],
        responses=_DECISION_RESPONSES,
    )
    def get(self, request):
        return self.decide(request, request.query_params.dict())
