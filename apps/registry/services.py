"""Every write to registry namespaces, repositories and tags (taking the acting user).

Deleting a tag or a repository deletes manifests in the registry first (with a token the
portal signs for itself), then the rows: a registry that cannot be reached raises
:class:`~apps.registry.client.RegistryUnreachable` (503 "registry unreachable") and no row of
an image still in the registry is lost. The bytes stay in the registry's storage until garbage
collection (:func:`start_garbage_collection`).

Writes reaching the portal over HTTP (API, admin) are audited by the audit middleware, one row
per request, named by the view (``request.audit_action`` / ``audit_resource``).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from apps.core.errors import Conflict

from . import client
from .events import recompute_size
from .models import GarbageCollection, RegistryNamespace, Repository, Tag

EDITABLE = ("display_name", "description", "visibility", "project", "storage_quota_bytes")


def _validate_project(tenant, project) -> None:
    if project is not None and project.tenant_id != tenant.pk:
        raise ValidationError({"project": ["Unknown project."]})


@transaction.atomic
def create_namespace(*, actor, tenant, name: str, **fields) -> RegistryNamespace:
    _validate_project(tenant, fields.get("project"))
    if RegistryNamespace.objects.filter(tenant=tenant, name=name).exists():
        raise ValidationError({"name": [f"A registry namespace named {name} already exists."]})
    namespace = RegistryNamespace(
        tenant=tenant,
        name=name,
        created_by=actor if getattr(actor, "pk", None) else None,
        **{k: v for k, v in fields.items() if k in EDITABLE},
    )
    namespace.full_clean()
    namespace.save()
    return namespace


@transaction.atomic
def update_namespace(*, actor, namespace: RegistryNamespace, **changes) -> RegistryNamespace:
    _validate_project(namespace.tenant, changes.get("project"))
    for name, value in changes.items():
        if name in EDITABLE:
            setattr(namespace, name, value)
    namespace.full_clean()
    namespace.save()
    return namespace


@transaction.atomic
def delete_namespace(*, actor, namespace: RegistryNamespace) -> None:
    """Delete the namespace's rows (its images stay in the registry, reachable by nobody but
    the platform administrator, until deleted there and garbage-collected)."""
    namespace.delete()


class TagShared(Conflict):
    default_code = "tag_shared"


def _forget_digest(repository: Repository, digest: str) -> list[str]:
    """Delete the rows of the tags naming ``digest`` (gone from the registry); their names."""
    with transaction.atomic():
        doomed = Tag.objects.filter(repository=repository, digest=digest)
        names = sorted(doomed.values_list("name", flat=True))
        doomed.delete()
        recompute_size(repository)
    return names


def delete_tag(*, actor, tag: Tag, force: bool = False) -> list[str]:
    """Delete ``tag``'s manifest from the registry, then its row. The registry deletes a
    manifest by digest, which removes every tag naming it: when other tags of the repository
    share the digest this refuses (409 ``tag_shared``, naming them) unless ``force``, and then
    deletes them all. Returns the names of the tags deleted."""
    repository = tag.repository
    others = sorted(
        Tag.objects.filter(repository=repository, digest=tag.digest)
        .exclude(pk=tag.pk)
        .values_list("name", flat=True)
    )
    if others and not force:
        raise TagShared(
            f"Tag {tag.name} is the image {tag.digest}, which the tag(s) {', '.join(others)} "
            f"also name: the registry deletes an image by digest, with every tag naming it. "
            f"Delete with force=true to delete them all.",
            fields={"force": [f"Tags sharing the digest: {', '.join(others)}."]},
        )
    client.delete_manifest(repository.registry_name(), tag.digest)
    return _forget_digest(repository, tag.digest)


def delete_repository(*, actor, repository: Repository) -> None:
    """Delete every manifest of ``repository`` (its tags' digests) from the registry, then its
    row. When the registry fails midway, the tags already deleted there lose their rows and
    the rest (and the repository) stay, so a retry finishes the work."""
    digests = sorted(set(repository.tags.values_list("digest", flat=True)))
    name = repository.registry_name()
    for digest in digests:
        client.delete_manifest(name, digest)
        _forget_digest(repository, digest)
    repository.delete()


def start_garbage_collection(*, actor) -> GarbageCollection:
    """Record a garbage collection and queue it (``apps.registry.tasks.garbage_collect``)."""
    from .tasks import garbage_collect

    run = GarbageCollection.objects.create(
        triggered_by=actor if getattr(actor, "pk", None) else None
    )
    transaction.on_commit(lambda: garbage_collect.delay(run.pk))
    return run
