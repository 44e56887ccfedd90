"""``manage.py bootstrap_admin``: create or update the *platform* administrator of a real
deployment from the environment — ``PORTAL_ADMIN_USERNAME`` (default ``admin``) and
``PORTAL_ADMIN_PASSWORD``. Run it after ``migrate`` (a deployment's first start, or to
reset a lost password); it is idempotent:

- no such platform administrator yet: created (superuser, no tenant) with that password;
  without ``PORTAL_ADMIN_PASSWORD`` it refuses (a password printed to a log is not a secret);
- one exists: made active and a superuser again if it was not; its password is set when
  ``PORTAL_ADMIN_PASSWORD`` is given and differs, kept otherwise.

The password must pass the password policy (``AUTH_PASSWORD_VALIDATORS``); ``--demo`` skips
it for throwaway demo databases. The admin's sign-in lockout is cleared, and every change is
an audit event (``auth.bootstrap_admin``, channel cli) without the password.

(``manage.py seeddemo`` is different: it seeds the *demo tenant's* administrator.)
"""

import os

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from apps.accounts import lockout
from apps.accounts.models import User, username_validator
from apps.audit.choices import Channel, Outcome
from apps.audit.services import record_event


class Command(BaseCommand):
    help = (
        "Create or update the platform administrator from PORTAL_ADMIN_USERNAME (default "
        "admin) and PORTAL_ADMIN_PASSWORD. Idempotent."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--demo",
            action="store_true",
            help="a demo database: accept a password the password policy would refuse",
        )

    def handle(self, *args, demo=False, **options):
        username = (os.environ.get("PORTAL_ADMIN_USERNAME") or "admin").strip()
        password = os.environ.get("PORTAL_ADMIN_PASSWORD") or ""
        try:
            username_validator(username)
        except ValidationError as exc:
            raise CommandError(f"PORTAL_ADMIN_USERNAME: {' '.join(exc.messages)}") from exc
        with transaction.atomic():
            user = User.objects.select_for_update().filter(tenant=None, username=username).first()
            if user is None and not password:
                raise CommandError(
                    f"There is no platform administrator '{username}' yet: set "
                    "PORTAL_ADMIN_PASSWORD to create it."
                )
            candidate = user or User(tenant=None, username=username)
            if password and not demo:
                try:
                    validate_password(password, candidate)
                except ValidationError as exc:
                    raise CommandError(f"PORTAL_ADMIN_PASSWORD: {' '.join(exc.messages)}") from exc
            changes = self._apply(candidate, password)
        if user is not None:
            lockout.reset_account(candidate)
        verb = "created" if user is None else ("updated" if changes else "unchanged")
        if changes:
            record_event(
                action="auth.bootstrap_admin",
                user=candidate,
                resource=candidate.authz_resource,
                channel=Channel.CLI,
                outcome=Outcome.SUCCESS,
                message=f"platform administrator {verb}: {', '.join(changes)}",
            )
        self.stdout.write(f"Platform administrator '{username}' {verb}.")

    @staticmethod
    def _apply(user: User, password: str) -> list[str]:
        """Bring ``user`` to what the environment says; returns what changed (saved)."""
        changes = []
        if user.pk is None:
            changes.append("created")
        for flag in ("is_superuser", "is_staff", "is_active"):
            if not getattr(user, flag):
                setattr(user, flag, True)
                changes.append(flag)
        if password and not user.check_password(password):
            user.set_password(password)
            user.password_changed_at = timezone.now()
            user.must_change_password = False
            changes.append("password")
        if changes:
            user.save()
        return changes
