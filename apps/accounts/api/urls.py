from django.urls import path
from rest_framework.routers import SimpleRouter

from .views import (
    APIKeyViewSet,
    GroupViewSet,
    IdentityProviderViewSet,
    MePasswordView,
    MeView,
    UserViewSet,
)

router = SimpleRouter()
router.register("users", UserViewSet, basename="user")
router.register("groups", GroupViewSet, basename="group")
router.register("api-keys", APIKeyViewSet, basename="apikey")
router.register("identity-providers", IdentityProviderViewSet, basename="identityprovider")
urlpatterns = [
    path("me/", MeView.as_view(), name="me"),
    path("me/password/", MePasswordView.as_view(), name="me-password"),
    *router.urls,
]
