from django.urls import path
from rest_framework.routers import SimpleRouter

from .views import APIKeyViewSet, GroupViewSet, MeView, UserViewSet

router = SimpleRouter()
router.register("users", UserViewSet, basename="user")
router.register("groups", GroupViewSet, basename="group")
router.register("api-keys", APIKeyViewSet, basename="apikey")
urlpatterns = [path("me/", MeView.as_view(), name="me"), *router.urls]
