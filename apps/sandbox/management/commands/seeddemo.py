"""``manage.py seeddemo``: the demo tenant and its administrator, for ``make run``, and
with ``--kubeconfig`` the simulated clusters ``manage.py kubesim`` serves. It lives with the
sandbox whose demo it seeds, using each app's services (tenants, accounts, authz, clusters).

Idempotent: an existing demo tenant and admin are kept. The admin's password is set from
``PORTAL_ADMIN_PASSWORD`` when given; otherwise a new admin gets a random one (printed) and
an existing admin keeps theirs.
"""

import os
import secrets
from pathlib import Path

import yaml
from django.core.management.base import BaseCommand
from django.db import transaction

from apps.accounts import services as account_services
from apps.accounts.models import User
from apps.authz.services import ensure_predefined_policies, make_administrator
from apps.tenants import services
from apps.tenants.models import Tenant


class Command(BaseCommand):
    help = "Create (or refresh) the demo tenant and its administrator; print the sign-in."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", default="demo")
        parser.add_argument("--admin", default="admin")
        parser.add_argument(
            "--kubeconfig",
            help="import (or reconnect) every context of this kubeconfig as a cluster",
        )

    def handle(self, *args, tenant, admin, kubeconfig=None, **options):
        obj = self._seed(tenant, admin)
        if kubeconfig:
            self._clusters(obj, Path(kubeconfig))

    def _clusters(self, tenant, path: Path) -> None:
        """Each context becomes a cluster named after it; an existing one is reconnected
        (kubesim gets a new address, CA and token every time it starts)."""
        from apps.clusters import k8s
        from apps.clusters import services as cluster_services
        from apps.clusters.models import Cluster

        text = path.read_text()
        for context in [c["name"] for c in yaml.safe_load(text).get("contexts", [])]:
            spec = cluster_services.spec_from_kubeconfig(text, context)
            existing = Cluster.objects.filter(tenant=tenant, display_name=context).first()
            try:
                if existing is None:
                    cluster = cluster_services.import_cluster(
                        actor=None, tenant=tenant, display_name=context, spec=spec
                    )
                else:
                    cluster = cluster_services.rotate_credential(
                        actor=None, cluster=existing, spec=spec, move=True
                    )
                cluster_services.sync_nodes(cluster)
                cluster = cluster_services.check_health(cluster)
            except k8s.ClusterError as exc:
                self.stderr.write(f"cluster {context}: {exc.detail}")
                continue
            self.stdout.write(
                f"Cluster {context} ({cluster.name}): {cluster.node_count} nodes, "
                f"{', '.join(cluster.architectures)}, {cluster.gpu_summary.get('gpus', 0)} GPUs"
            )

    @transaction.atomic
    def _seed(self, tenant, admin):
        given = os.environ.get("PORTAL_ADMIN_PASSWORD")
        password = given or secrets.token_urlsafe(12)
        obj = Tenant.objects.filter(slug=tenant).first()
        if obj is None:
            obj = services.create_tenant(actor=None, slug=tenant, display_name="Demo tenant")
        user = User.objects.filter(tenant=obj, username=admin).first()
        keep = user is not None and not given
        if user is None:
            user = account_services.create_user(
                actor=None,
                tenant=obj,
                username=admin,
                password=None,
                is_tenant_admin=True,
                display_name="Demo administrator",
            )
        # Older demo databases predate the policy layer: bring them up to date.
        ensure_predefined_policies(obj)
        make_administrator(actor=None, user=user, admin=True)
        if not keep:
            # The demo password may be weak by choice (PORTAL_ADMIN_PASSWORD); no validators.
            user.set_password(password)
            user.save(update_fields=["password"])
        host = os.environ.get("PORTAL_HOST", "127.0.0.1")
        port = os.environ.get("PORTAL_PORT", "8000")
        shown = "unchanged (set PORTAL_ADMIN_PASSWORD to reset it)" if keep else password
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo sign-in: http://{host}:{port}/  user {obj.slug}/{admin}  password {shown}"
            )
        )
        return obj
