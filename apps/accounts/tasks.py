"""Directory housekeeping: re-checking that directory users still exist (so people removed
or disabled in LDAP, or whose OIDC grant was revoked, lose access), and LDAP's on-demand
sync. Each provider type's module does the asking (``apps.accounts.identity``)."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from .identity import module_for
from .identity.provisioning import users_due
from .models import IdentityProvider

logger = logging.getLogger("tkeportal.identity")


@shared_task(acks_late=True)
def revalidate_directory_users() -> dict:
    """Beat task: for every enabled directory provider, ask about the users whose last check
    is older than ``PORTAL_DIRECTORY_RECHECK_SECONDS`` (at most
    ``PORTAL_DIRECTORY_RECHECK_BATCH`` per provider per run)."""
    older_than = timezone.now() - timedelta(seconds=settings.PORTAL_DIRECTORY_RECHECK_SECONDS)
    checked: dict[str, int] = {}
    providers = IdentityProvider.objects.filter(enabled=True).exclude(type="local")
    for provider in providers.select_related("tenant"):
        module = module_for(provider.type)
        users = list(users_due(provider, older_than)[: settings.PORTAL_DIRECTORY_RECHECK_BATCH])
        if not users or not hasattr(module, "revalidate"):
            continue
        module.revalidate(provider, users)
        checked[str(provider)] = len(users)
    return checked


@shared_task(acks_late=True)
def purge_expired_sessions() -> int:
    """Beat task: delete session rows past their expiry (what ``manage.py clearsessions``
    does; nothing else removes a session nobody signed out of). Returns how many went."""
    from .models import PortalSession

    deleted, _ = PortalSession.objects.filter(expire_date__lt=timezone.now()).delete()
    return deleted


@shared_task(acks_late=True)
def sync_identity_provider(provider_id: int) -> dict:
    provider = IdentityProvider.objects.select_related("tenant").filter(pk=provider_id).first()
    if provider is None or not provider.enabled:
        return {"skipped": "provider gone or disabled"}
    report = module_for(provider.type).sync(provider)
    report.setdefault("synced_at", timezone.now().isoformat())
    IdentityProvider.objects.filter(pk=provider.pk).update(last_sync=report)
    return report
