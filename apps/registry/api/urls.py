"""/api/v1/registry/namespaces/."""

from rest_framework.routers import SimpleRouter

from .views import RegistryNamespaceViewSet

router = SimpleRouter()
router.register("registry/namespaces", RegistryNamespaceViewSet, basename="registrynamespace")

urlpatterns = router.urls
