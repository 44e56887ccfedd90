"""``manage.py importcluster --tenant <slug> --kubeconfig ~/.kube/config [--context …]``"""

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from apps.audit.choices import Channel
from apps.audit.services import record_event
from apps.clusters import k8s, services
from apps.tenants.models import Tenant


class Command(BaseCommand):
    help = "Import a cluster from a kubeconfig context into a tenant."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True)
        parser.add_argument("--kubeconfig", required=True, type=Path)
        parser.add_argument("--context", default=None, help="default: current-context")
        parser.add_argument("--name", default=None, help="display name (default: context)")

    def handle(self, *args, tenant, kubeconfig, context, name, **options):
        owner = Tenant.objects.filter(slug=tenant).first()
        if owner is None:
            raise CommandError(f"No tenant '{tenant}'.")
        try:
            text = kubeconfig.expanduser().read_text()
        except OSError as exc:
            raise CommandError(f"Cannot read {kubeconfig}: {exc.strerror}") from exc
        try:
            spec = services.spec_from_kubeconfig(text, context)
            cluster = services.import_cluster(
                actor=None, tenant=owner, display_name=name or context or "imported", spec=spec
            )
            services.sync_nodes(cluster)
            services.record_health(cluster, ok=True, version=None)
        except ValidationError as exc:
            raise CommandError(
                "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
            ) from exc
        except k8s.ClusterError as exc:
            raise CommandError(str(exc.detail)) from exc
        record_event(
            action="createCluster",
            resource=cluster.authz_resource,
            tenant=owner,
            channel=Channel.CLI,
            status_code=201,
            username="manage.py",
            request_body={"kubeconfig": str(kubeconfig), "context": context},
        )
        self.stdout.write(f"Imported {cluster.name} ({cluster.display_name}) into {owner.slug}")
