"""The registry's notifications (docker/distribution's event envelope) applied to the rows.

- a manifest push with a tag creates or updates the Repository and the Tag (digest, media
  type, size, architectures read from the registry, pushed at / by) and counts a push;
- a manifest pull (by tag, or by the digest of a tag) counts a pull;
- a manifest delete removes the tags naming that digest in that repository;
- repository sizes follow (the sum over the distinct digests of their tags).

Each event is applied once: its id is stored (:class:`~apps.registry.models.RegistryEvent`),
and a redelivered event is skipped. Every push, pull and delete is audited as the actor the
registry names (the token's subject, ``<tenant>/<username>``). Events outside
``<tenant>/<namespace>/<repository>``, of unknown namespaces, of blobs or of the portal's own
requests are ignored and counted.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.accounts.models import User
from apps.audit.choices import Channel
from apps.audit.services import record_event

from . import client
from .models import RegistryEvent, RegistryNamespace, Repository, Tag
from .token import split_repository

logger = logging.getLogger(__name__)


@dataclass
class Outcome:
    applied: int = 0
    duplicates: int = 0
    ignored: int = 0

    def as_dict(self) -> dict:
        return {"applied": self.applied, "duplicates": self.duplicates, "ignored": self.ignored}


def _str(value) -> str:
    return value if isinstance(value, str) else ""


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _source_ip(addr: str) -> str | None:
    """``10.0.0.1:53211`` or ``[::1]:53211`` → the address (None when it is none)."""
    host = addr.rsplit(":", 1)[0] if addr.count(":") == 1 or addr.startswith("[") else addr
    host = host.strip("[]")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


def _actor(name: str):
    """The user a token subject names (``<tenant>/<username>``, or a platform administrator's
    bare username), or None."""
    if not name or name == client.PORTAL_SUBJECT:
        return None
    tenant_slug, sep, username = name.rpartition("/")
    users = User.objects.select_related("tenant")
    if sep:
        return users.filter(tenant__slug=tenant_slug, username=username).first()
    return users.filter(tenant__isnull=True, username=name).first()


def recompute_size(repository: Repository) -> None:
    """The repository's size: each distinct digest of its tags counted once."""
    sizes = dict(Tag.objects.filter(repository=repository).values_list("digest", "size"))
    Repository.objects.filter(pk=repository.pk).update(size=sum(sizes.values()))


def purge_seen(now=None) -> int:
    cutoff = (now or timezone.now()) - timedelta(seconds=settings.REGISTRY_EVENTS_RETENTION)
    deleted, _ = RegistryEvent.objects.filter(received_at__lt=cutoff).delete()
    return deleted


def _claim(event_id: str, action: str) -> bool:
    """Record the event id (inside the caller's transaction); False when it was seen."""
    try:
        with transaction.atomic():
            RegistryEvent.objects.create(event_id=event_id[:64], action=action[:16])
    except IntegrityError:
        return False
    return True


def _audit(action, *, event, namespace, repository_name, reference, actor_name, user, message):
    request = _dict(event.get("request"))
    record_event(
        action=action,
        user=user,
        tenant=namespace.tenant,
        resource=f"{namespace.authz_resource}/repository:{repository_name}{reference}"[:512],
        channel=Channel.API,
        status_code=200,
        message=message,
        username="" if user is not None else actor_name[:150],
        method=_str(request.get("method"))[:10],
        path=_str(_dict(event.get("target")).get("url"))[:1024],
        source_ip=_source_ip(_str(request.get("addr"))),
        user_agent=_str(request.get("useragent"))[:512],
        request_id=_str(request.get("id"))[:64],
    )


def apply_envelope(events) -> Outcome:
    """Apply every event of an envelope; never raises for one bad event."""
    outcome = Outcome()
    for event in events if isinstance(events, list) else []:
        try:
            applied = apply_event(event)
        # One event must not lose the envelope's others: a database failure, the registry
        # failing a read, or a field of an unexpected shape is logged and the event counted
        # as ignored (a programming error still fails the delivery, which the registry retries).
        except (DatabaseError, client.RegistryError, ValueError, TypeError, KeyError) as exc:
            logger.warning(
                "registry event %r could not be applied: %s: %s",
                _dict(event).get("id"),
                type(exc).__name__,
                exc,
            )
            outcome.ignored += 1
            continue
        if applied is None:
            outcome.ignored += 1
        elif applied:
            outcome.applied += 1
        else:
            outcome.duplicates += 1
    purge_seen()
    return outcome


def apply_event(event) -> bool | None:
    """True: applied; False: seen before; None: ignored."""
    event = _dict(event)
    event_id, action = _str(event.get("id")), _str(event.get("action"))
    target = _dict(event.get("target"))
    if not event_id or action not in ("push", "pull", "delete"):
        return None
    name = _str(target.get("repository"))
    parts = split_repository(name)
    if parts is None:
        return None
    tenant_slug, ns_name, repo_name = parts
    namespace = (
        RegistryNamespace.objects.select_related("tenant")
        .filter(tenant__slug=tenant_slug, name=ns_name)
        .first()
    )
    if namespace is None:
        return None
    actor_name = _str(_dict(event.get("actor")).get("name"))
    if actor_name == client.PORTAL_SUBJECT:
        # The portal's own reads (inspecting a pushed manifest) and deletes (audited by the
        # API request that made them) are not users' pulls and deletes.
        return None
    media_type = _str(target.get("mediaType"))
    digest, tag = _str(target.get("digest")), _str(target.get("tag"))
    if action == "push":
        if media_type not in client.MANIFEST_TYPES or not tag or not digest:
            return None  # blobs, and child manifests pushed by digest before their index
        return _push(event, namespace, repo_name, name, media_type, digest, tag, actor_name)
    if action == "pull":
        if media_type not in client.MANIFEST_TYPES:
            return None
        return _pull(event, namespace, repo_name, digest, tag, actor_name)
    return _delete(event, namespace, repo_name, digest, tag, actor_name)


def _push(event, namespace, repo_name, full_name, media_type, digest, tag, actor_name):
    if RegistryEvent.objects.filter(event_id=event["id"][:64]).exists():
        return False
    target = _dict(event.get("target"))
    size, architectures = int(target.get("size") or target.get("length") or 0), []
    try:
        facts = client.inspect_manifest(full_name, digest, hint=_str(target.get("url")))
        size, architectures = facts.size, facts.architectures
    except (client.RegistryError, client.RegistryUnreachable) as exc:
        # The tag keeps what the event said; the next push of it fills the rest in.
        logger.warning("could not read %s@%s from the registry: %s", full_name, digest, exc)
    pushed_at = parse_datetime(_str(event.get("timestamp"))) or timezone.now()
    user = _actor(actor_name)
    with transaction.atomic():
        if not _claim(event["id"], "push"):
            return False
        repository, _ = Repository.objects.get_or_create(namespace=namespace, name=repo_name)
        Tag.objects.update_or_create(
            repository=repository,
            name=tag,
            defaults={
                "digest": digest,
                "media_type": media_type,
                "size": size,
                "architectures": architectures,
                "pushed_at": pushed_at,
                "pushed_by": user,
            },
        )
        Repository.objects.filter(pk=repository.pk).update(push_count=F("push_count") + 1)
        recompute_size(repository)
        _audit(
            "pushRepository",
            event=event,
            namespace=namespace,
            repository_name=repo_name,
            reference=f"/tag:{tag}",
            actor_name=actor_name,
            user=user,
            message=f"pushed {full_name}:{tag}@{digest} ({size} bytes)",
        )
    return True


def _pull(event, namespace, repo_name, digest, tag, actor_name):
    repository = Repository.objects.filter(namespace=namespace, name=repo_name).first()
    if repository is None:
        return None
    if not tag:
        # A pull by digest counts when the digest is a tag's: the child manifests a client
        # reads after an index are part of the one pull of that index.
        named = Tag.objects.filter(repository=repository, digest=digest).first()
        if named is None:
            return None
    user = _actor(actor_name)
    with transaction.atomic():
        if not _claim(event["id"], "pull"):
            return False
        Repository.objects.filter(pk=repository.pk).update(pull_count=F("pull_count") + 1)
        reference = f"/tag:{tag}" if tag else f"@{digest}"
        _audit(
            "pullRepository",
            event=event,
            namespace=namespace,
            repository_name=repo_name,
            reference=reference,
            actor_name=actor_name,
            user=user,
            message=f"pulled {repository.registry_name()}{':' + tag if tag else ''}@{digest}",
        )
    return True


def _delete(event, namespace, repo_name, digest, tag, actor_name):
    repository = Repository.objects.filter(namespace=namespace, name=repo_name).first()
    if repository is None or not (digest or tag):
        return None
    # Deleting a manifest removes every tag naming it; a tag delete names the tag. A blob's
    # delete looks like a manifest's (repository and digest only): it names no tag, and is
    # ignored like the delete of an untagged manifest.
    doomed = Tag.objects.filter(repository=repository)
    doomed = doomed.filter(digest=digest) if digest else doomed.filter(name=tag)
    if RegistryEvent.objects.filter(event_id=event["id"][:64]).exists():
        return False
    names = sorted(doomed.values_list("name", flat=True))
    if not names:
        return None
    user = _actor(actor_name)
    with transaction.atomic():
        if not _claim(event["id"], "delete"):
            return False
        doomed.delete()
        recompute_size(repository)
        _audit(
            "deleteTag",
            event=event,
            namespace=namespace,
            repository_name=repo_name,
            reference=f"/tag:{tag}" if tag else f"@{digest}",
            actor_name=actor_name,
            user=user,
            message=f"deleted {repository.registry_name()}@{digest or tag} "
            f"(tags: {', '.join(names) or 'none'})",
        )
    return True
