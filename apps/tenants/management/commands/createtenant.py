"""``manage.py createtenant <slug> --display-name … --admin <username> --password <pw>``"""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from apps.audit.choices import Channel
from apps.audit.services import record_event
from apps.tenants import services


class Command(BaseCommand):
    help = "Create a tenant and (optionally) its first administrator."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--display-name", default="")
        parser.add_argument("--admin", dest="admin_username")
        parser.add_argument("--password", dest="admin_password")
        parser.add_argument("--email", dest="admin_email", default="")

    def handle(
        self, *args, slug, display_name, admin_username, admin_password, admin_email, **options
    ):
        try:
            tenant = services.create_tenant(
                actor=None,
                slug=slug,
                display_name=display_name,
                admin_username=admin_username,
                admin_password=admin_password,
                admin_email=admin_email,
            )
        except ValidationError as exc:
            raise CommandError(_describe(exc)) from exc
        record_event(
            action="createTenant",
            resource=tenant.authz_resource,
            tenant=tenant,
            channel=Channel.CLI,
            status_code=201,
            username="manage.py",
            request_body={"slug": slug, "display_name": display_name, "admin": admin_username},
        )
        self.stdout.write(f"Created tenant {tenant.slug}")
        if admin_username:
            self.stdout.write(f"Administrator: {tenant.slug}/{admin_username}")


def _describe(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
    return " ".join(exc.messages)
