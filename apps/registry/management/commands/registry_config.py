"""``manage.py registry_config``: write the certificate the registry trusts (its
``rootcertbundle``: the portal's token signing key, generated at first use) and print a
``docker-registry serve`` configuration pointing at the portal's token service."""

from pathlib import Path

from django.core.management.base import BaseCommand

from apps.registry.config import registry_config
from apps.registry.token import signing_key


class Command(BaseCommand):
    help = "Write the registry's rootcertbundle and print its configuration (YAML)."

    def add_arguments(self, parser):
        parser.add_argument("--certbundle", required=True, help="where to write the certificate")
        parser.add_argument(
            "--realm",
            default="http://127.0.0.1:8000/registry/token",
            help="the portal's token service URL, as registry clients reach it",
        )
        parser.add_argument("--listen", default="127.0.0.1:5000", help="the registry's host:port")
        parser.add_argument("--storage", default="var/registry", help="where images are stored")
        parser.add_argument(
            "--events-url",
            default=None,
            help="the portal's /registry/events as the registry reaches it (default: next to "
            "the realm); written only when REGISTRY_EVENTS_SECRET is set",
        )

    def handle(self, *args, **options):
        bundle = Path(options["certbundle"])
        bundle.parent.mkdir(parents=True, exist_ok=True)
        bundle.write_text(signing_key().certificate)
        self.stdout.write(
            registry_config(
                listen=options["listen"],
                realm=options["realm"],
                storage_dir=str(Path(options["storage"]).resolve()),
                certbundle=str(bundle.resolve()),
                events_url=options["events_url"],
            )
        )
