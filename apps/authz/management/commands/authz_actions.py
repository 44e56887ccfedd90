"""``manage.py authz_actions``: the action/resource table of every API endpoint."""

from django.core.management.base import BaseCommand

from apps.authz.catalog import KINDS, actions_of
from apps.authz.routes import api_routes


class Command(BaseCommand):
    help = "Print which authorization action and resource each API endpoint checks."

    def add_arguments(self, parser):
        parser.add_argument(
            "--catalogue", action="store_true", help="also list every known action by kind"
        )

    def handle(self, *args, catalogue, **options):
        rows = [(r.method, r.path, r.action, r.resource) for r in api_routes()]
        widths = [
            max(len(str(row[i])) for row in rows + [("Method", "Path", "Action", "Resource")])
            for i in range(4)
        ]
        header = ("Method", "Path", "Action", "Resource")
        self.stdout.write(" | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
        self.stdout.write("-|-".join("-" * w for w in widths))
        for row in rows:
            self.stdout.write(" | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
        if catalogue:
            self.stdout.write("\nKnown actions by kind:")
            for kind in KINDS:
                self.stdout.write(f"  {kind}: {', '.join(actions_of(kind))}")
