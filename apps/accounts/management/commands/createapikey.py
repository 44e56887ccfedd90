"""``manage.py createapikey --user <tenant/username> --expires 1h [--description …]``"""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from apps.accounts import services
from apps.accounts.models import User
from apps.audit.choices import Channel
from apps.audit.services import record_event


class Command(BaseCommand):
    help = "Create an API key for a user and print it once (it is stored only hashed)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--user", required=True, help="tenant/username, or username if unambiguous"
        )
        parser.add_argument("--expires", default="7d", help="lifetime: 30m, 12h, 7d, 2w …")
        parser.add_argument("--description", default="created with manage.py createapikey")

    def handle(self, *args, user, expires, description, **options):
        try:
            owner = User.objects.get_by_natural_key(user)
        except User.DoesNotExist as exc:
            raise CommandError(f"No user '{user}'.") from exc
        except User.MultipleObjectsReturned as exc:
            raise CommandError(f"'{user}' exists in several tenants: use tenant/username.") from exc
        try:
            lifetime = services.parse_duration(expires)
            key, plaintext = services.create_api_key(
                actor=None, user=owner, expires_in=lifetime, description=description
            )
        except ValueError as exc:
            raise CommandError(f"--expires: {exc}") from exc
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        record_event(
            action="createAPIKey",
            resource=key.authz_resource,
            user=None,
            tenant=owner.tenant,
            channel=Channel.CLI,
            status_code=201,
            username="manage.py",
            request_body={"user": user, "expires": expires, "description": description},
        )
        self.stderr.write(f"API key {key.prefix}… for {owner}, expires {key.expires_at:%c} UTC")
        self.stdout.write(plaintext)
