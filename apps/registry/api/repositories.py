"""``/api/v1/registry/namespaces/<ns>/repositories/`` and ``…/repositories/<repo>/tags/``:
the images pushed to a namespace (rows the registry's notifications keep), and their deletion.

Repository names hold ``/`` (``tools/builder``): the detail route takes the whole name, and
the tag routes are matched first, so ``…/repositories/tools/builder/tags/`` is the tags of
``tools/builder`` (a repository whose last path component is ``tags`` is reached through the
list, not by its detail URL).

Authorization: ``listRepositories`` / ``getRepository`` / ``deleteRepository`` on
``registrynamespace:<ns>/repository:<repo>``; ``listTags`` / ``getTag`` / ``deleteTag`` on
``…/tag:<tag>``. Other tenants' namespaces, repositories and tags are 404.
"""

from __future__ import annotations

from django.db.models import Count
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.response import Response

from apps.core.api.viewsets import PortalViewSetMixin

from .. import services
from ..models import RegistryNamespace, Repository, Tag
from .serializers import RepositorySerializer, TagSerializer

# Permissive on purpose (no groups: the route table in docs/ reads them plainly); a name
# outside Docker's grammar matches no row and is 404.
REPOSITORY_REGEX = r"[a-z0-9][a-z0-9._/-]*"
TAG_REGEX = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"


class _NamespaceChild(PortalViewSetMixin):
    def namespace(self) -> RegistryNamespace:
        """The namespace of the URL, in the request's tenant: 404 otherwise."""
        cached = getattr(self, "_namespace", None)
        if cached is None:
            name = self.kwargs["namespace"]
            cached = (
                RegistryNamespace.objects.in_scope(self.scope)
                .select_related("tenant")
                .filter(name=name)
                .first()
            )
            if cached is None:
                raise exceptions.NotFound(f"Registry namespace '{name}' not found.")
            self._namespace = cached
        return cached

    def list(self, request, *args, **kwargs):
        self.namespace()
        return super().list(request, *args, **kwargs)


class RepositoryViewSet(
    _NamespaceChild,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Image repositories of a namespace, with pull and push counts and size."""

    queryset = Repository.objects.select_related("namespace__tenant").annotate(
        tag_total=Count("tags")
    )
    serializer_class = RepositorySerializer
    authz_kind = "Repository"
    lookup_field = "name"
    lookup_value_regex = REPOSITORY_REGEX
    search_fields = ["name", "description"]
    ordering_fields = ["name", "pull_count", "push_count", "size", "updated_at"]

    def authz_resource_path(self) -> str:
        return (
            f"registrynamespace:{self.kwargs.get('namespace', '*')}"
            f"/repository:{self.kwargs.get('name') or '*'}"
        )

    def object_tenant(self, obj):
        return obj.namespace.tenant

    def get_queryset(self):
        return super().get_queryset().filter(namespace__name=self.kwargs["namespace"])

    def perform_destroy(self, instance):
        """Deletes every manifest of the repository in the registry, then the row (503
        "registry unreachable" when the registry cannot be reached; no row lost)."""
        services.delete_repository(actor=self.request.user, repository=instance)


class TagViewSet(
    _NamespaceChild,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Tags of a repository: digest, size, architectures, who pushed, the pull command."""

    queryset = Tag.objects.select_related("repository__namespace__tenant", "pushed_by__tenant")
    serializer_class = TagSerializer
    authz_kind = "Tag"
    lookup_field = "name"
    lookup_value_regex = TAG_REGEX
    search_fields = ["name", "digest"]
    ordering_fields = ["name", "pushed_at", "size"]

    def authz_resource_path(self) -> str:
        kw = self.kwargs
        return (
            f"registrynamespace:{kw.get('namespace', '*')}/repository:{kw.get('repository', '*')}"
            f"/tag:{kw.get('name') or '*'}"
        )

    def object_tenant(self, obj):
        return obj.repository.namespace.tenant

    def get_queryset(self):
        return (
            super()
            .get_queryset()
            .filter(
                repository__namespace__name=self.kwargs["namespace"],
                repository__name=self.kwargs["repository"],
            )
        )

    def list(self, request, *args, **kwargs):
        namespace = self.namespace()
        if not namespace.repositories.filter(name=self.kwargs["repository"]).exists():
            raise exceptions.NotFound(f"Repository '{self.kwargs['repository']}' not found.")
        return super().list(request, *args, **kwargs)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "force",
                bool,
                description="Delete although other tags name the same image (they go too).",
            )
        ],
        responses={
            200: inline_serializer(
                "RegistryTagDeleted",
                {
                    "digest": serializers.CharField(help_text="The image deleted."),
                    "deleted_tags": serializers.ListField(
                        child=serializers.CharField(), help_text="Every tag that named it."
                    ),
                },
            )
        },
    )
    def destroy(self, request, *args, **kwargs):
        """Delete the tag's image (its manifest) from the registry, then the row. The registry
        deletes by digest, so every tag naming the same image goes too: refused with 409
        ``tag_shared`` (naming those tags) unless ``?force=true``. Answers the digest and the
        tags deleted; 503 "registry unreachable" leaves every row."""
        tag = self.get_object()
        force = request.query_params.get("force", "").lower() in ("1", "true", "yes")
        digest = tag.digest
        deleted = services.delete_tag(actor=request.user, tag=tag, force=force)
        return Response({"digest": digest, "deleted_tags": deleted}, status=status.HTTP_200_OK)
