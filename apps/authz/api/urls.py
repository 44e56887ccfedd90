from django.urls import path
from rest_framework.routers import SimpleRouter

from .views import AuthzCheckView, AuthzExplainView, BindingViewSet, PolicyViewSet, RoleViewSet

router = SimpleRouter()
router.register("policies", PolicyViewSet, basename="policy")
router.register("roles", RoleViewSet, basename="role")
router.register("bindings", BindingViewSet, basename="binding")
urlpatterns = [
    path("authz/check/", AuthzCheckView.as_view(), name="authz-check"),
    path("authz/explain/", AuthzExplainView.as_view(), name="authz-explain"),
    *router.urls,
]
