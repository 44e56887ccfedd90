"""``manage.py democommands``: the commands ``make run`` prints for kubectl through the portal,
complete — with the demo tenant's real cluster ids (``cls-…``) — so each works verbatim:

    KEY=$(.venv/bin/python manage.py createapikey --user demo/admin --expires 8h)
    curl -s --cacert var/tls/ca.crt -X POST -H "Authorization: Bearer $KEY" \\
      "https://127.0.0.1:8443/api/v1/clusters/cls-…/kubeconfig?format=yaml" > prod.kubeconfig
    .venv/bin/kubectl --kubeconfig prod.kubeconfig get pods -A
"""

from __future__ import annotations

import shlex

from django.core.management.base import BaseCommand, CommandError

from apps.clusters.models import Cluster
from apps.tenants.models import Tenant


def instructions(
    *, tenant: str, admin: str, host: str, tls_port: int, ca_file: str, out_dir: str = ""
) -> str:
    found = Tenant.objects.filter(slug=tenant).first()
    if found is None:
        raise CommandError(f"no tenant {tenant!r}: run manage.py seeddemo first")
    clusters = list(Cluster.objects.filter(tenant=found).order_by("display_name", "name"))
    lines = [f"kubectl through the portal (HTTPS on {tls_port}):"]
    if not clusters:
        lines.append("  (no cluster in tenant yet: import one first)")
        return "\n".join(lines)
    lines.append(
        f"  KEY=$(.venv/bin/python manage.py createapikey --user {tenant}/{admin} --expires 8h)"
    )
    for cluster in clusters:
        label = cluster.display_name or cluster.name
        prefix = out_dir.rstrip("/") + "/" if out_dir else ""
        kubeconfig = shlex.quote(f"{prefix}{label}.kubeconfig")
        url = f"https://{host}:{tls_port}/api/v1/clusters/{cluster.name}/kubeconfig?format=yaml"
        lines += [
            f"  # cluster {label} ({cluster.name})",
            f"  curl -s --fail --cacert {shlex.quote(ca_file)} -X POST "
            f'-H "Authorization: Bearer $KEY" \\',
            f'    "{url}" > {kubeconfig}',
            f"  .venv/bin/kubectl --kubeconfig {kubeconfig} get pods -A",
        ]
    return "\n".join(lines)


class Command(BaseCommand):
    help = "Print the kubectl-through-the-portal commands for the demo tenant's clusters."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", default="demo")
        parser.add_argument("--admin", default="admin")
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--tls-port", type=int, default=8443)
        parser.add_argument("--ca-file", default="var/tls/ca.crt")
        parser.add_argument("--out-dir", default="var", help="where the kubeconfigs are written")

    def handle(self, *args, **options):
        self.stdout.write(
            instructions(
                tenant=options["tenant"],
                admin=options["admin"],
                host=options["host"],
                tls_port=options["tls_port"],
                ca_file=options["ca_file"],
                out_dir=options["out_dir"],
            )
        )
