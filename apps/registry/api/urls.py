"""/api/v1/registry/…: namespaces, their repositories and tags (repository names hold ``/``,
so the tag routes come first), garbage collections."""

from rest_framework.routers import SimpleRouter

from .garbage import GarbageCollectionViewSet
from .repositories import REPOSITORY_REGEX, RepositoryViewSet, TagViewSet
from .views import RegistryNamespaceViewSet

NAMESPACE = r"registry/namespaces/(?P<namespace>[a-z0-9._-]+)"

router = SimpleRouter()
router.register(
    rf"{NAMESPACE}/repositories/(?P<repository>{REPOSITORY_REGEX})/tags",
    TagViewSet,
    basename="registrytag",
)
router.register(rf"{NAMESPACE}/repositories", RepositoryViewSet, basename="registryrepository")
router.register("registry/namespaces", RegistryNamespaceViewSet, basename="registrynamespace")
router.register(
    "registry/garbage-collections", GarbageCollectionViewSet, basename="garbagecollection"
)

urlpatterns = router.urls
