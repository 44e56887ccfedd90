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
            self._projects(obj)
        self._registry(obj)

    # The demo's image namespaces (name, visibility, project) and its public chart group with
    # one chart ("hello-web": a Deployment and a Service) ready to install.
    REGISTRY_NAMESPACES = (
        ("library", "public", None),
        ("webshop", "private", "prj-webshop"),
    )
    CHART_GROUP = "demo-charts"

    def _registry(self, tenant) -> None:
        """Image namespaces and a chart group with a chart to install (idempotent)."""
        from apps.charts import services as charts
        from apps.charts.models import ChartGroup, ChartVersion
        from apps.projects.models import Project
        from apps.registry import services as registry
        from apps.registry.models import RegistryNamespace

        for name, visibility, project_name in self.REGISTRY_NAMESPACES:
            if RegistryNamespace.objects.filter(tenant=tenant, name=name).exists():
                continue
            project = Project.objects.filter(tenant=tenant, name=project_name).first()
            if project_name and project is None:
                continue  # the demo projects come with the clusters (--kubeconfig)
            registry.create_namespace(
                actor=None, tenant=tenant, name=name, visibility=visibility, project=project
            )
        group = ChartGroup.objects.filter(tenant=tenant, name=self.CHART_GROUP).first()
        if group is None:
            group = charts.create_group(
                actor=None,
                tenant=tenant,
                name=self.CHART_GROUP,
                display_name="Demo charts",
                visibility="public",
            )
        if not ChartVersion.objects.filter(chart__group=group).exists():
            charts.upload_chart(actor=None, group=group, archive=demo_chart())

    # Demo projects: (name, display name, namespaces to import as (cluster, namespace)),
    # and the demo users bound in them (username, project, role).
    PROJECTS = (
        ("prj-webshop", "Web shop", (("prod", "web"),)),
        ("prj-dataml", "Data and ML", (("prod", "data"), ("prod", "ml"))),
    )
    PROJECT_QUOTA = {
        "requests.cpu": "32",
        "requests.memory": "64Gi",
        "pods": "300",
        "requests.nvidia.com/gpu": "4",
    }
    # Each demo namespace's own quota (it must name everything the project limits).
    NAMESPACE_QUOTA = {
        "requests.cpu": "8",
        "requests.memory": "16Gi",
        "pods": "50",
        "requests.nvidia.com/gpu": "1",
    }
    MEMBERS = (
        ("lena", "prj-webshop", "project-owner"),
        ("dev", "prj-webshop", "project-member"),
        ("sam", "prj-dataml", "project-member"),
    )

    def _projects(self, tenant) -> None:
        """Two projects spanning the demo clusters, owning kubesim's demo namespaces, and
        business users who see only their project (sign in as them to see the difference).
        Idempotent: what exists is kept."""
        from django.core.exceptions import ValidationError

        from apps.clusters import k8s
        from apps.clusters.models import Cluster
        from apps.projects import namespaces
        from apps.projects import services as projects
        from apps.projects.models import Project, ProjectNamespace

        clusters = {c.display_name: c for c in Cluster.objects.filter(tenant=tenant)}
        if not clusters:
            return
        spans = {c.name: {"hard": dict(self.PROJECT_QUOTA)} for c in clusters.values()}
        for name, display_name, owned in self.PROJECTS:
            project = Project.objects.filter(name=name).first()
            if project is None:
                project = projects.create_project(
                    actor=None, tenant=tenant, name=name, display_name=display_name, clusters=spans
                )
            for cluster_name, namespace in owned:
                cluster = clusters.get(cluster_name)
                if (
                    cluster is None
                    or ProjectNamespace.objects.filter(
                        cluster=cluster, namespace=namespace
                    ).exists()
                ):
                    continue
                try:
                    namespaces.import_namespace(
                        actor=None,
                        project=project,
                        cluster=cluster,
                        namespace=namespace,
                        hard=dict(self.NAMESPACE_QUOTA),
                    )
                except (ValidationError, k8s.ClusterError) as exc:
                    self.stderr.write(f"namespace {cluster_name}/{namespace}: {exc}")
        password = os.environ.get("PORTAL_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        made = []
        for username, project_name, role in self.MEMBERS:
            user = User.objects.filter(tenant=tenant, username=username).first()
            if user is None:
                user = account_services.create_user(
                    actor=None, tenant=tenant, username=username, password=None
                )
                user.set_password(password)
                user.save(update_fields=["password"])
                made.append(username)
            project = Project.objects.get(name=project_name)
            member = projects.find_member(project, username)
            if member is None:
                projects.add_member(
                    actor=None, project=project, kind="user", name=username, roles=[role]
                )
        if made:
            self.stdout.write(
                f"Business users {', '.join(made)} (password {password}): lena owns Web shop, "
                "dev is a member of it, sam of Data and ML"
            )

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
            self._monitoring(cluster)

    def _monitoring(self, cluster) -> None:
        """Leave the cluster collecting metrics (the beat entry "metrics-collect" — or
        ``runperiodic`` without a broker — goes on every minute) with a first point now, so
        the console's charts have data from the start."""
        from apps.monitoring import collect, monitors, partitions

        partitions.ensure_partitions()
        monitor = monitors.monitor_for(cluster)
        if not monitor.enabled:
            monitor = monitors.update_monitor(actor=None, monitor=monitor, enabled=True)
        result = collect.collect(monitor)
        if result["ok"]:
            self.stdout.write(f"  metrics: {result['series']} series collected")
        else:
            self.stderr.write(f"  metrics: {result['error']}")

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


def demo_chart() -> bytes:
    """``hello-web-0.1.0.tgz``: a Deployment and a Service, replicas and image from values."""
    import io
    import tarfile

    files = {
        "Chart.yaml": "apiVersion: v2\nname: hello-web\nversion: 0.1.0\nappVersion: '1.27'\n"
        "description: A web server and its Service (the TKE Portal demo chart).\n",
        "values.yaml": "replicaCount: 2\nimage: nginx:1.27\nservice:\n  port: 80\n",
        "templates/deployment.yaml": (
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\n"
            "spec:\n  replicas: {{ .Values.replicaCount }}\n  selector:\n    matchLabels:\n"
            "      app: {{ .Release.Name }}\n  template:\n    metadata:\n      labels:\n"
            "        app: {{ .Release.Name }}\n    spec:\n      containers:\n"
            "        - name: web\n          image: {{ .Values.image | quote }}\n"
            "          ports:\n            - containerPort: 80\n"
        ),
        "templates/service.yaml": (
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ .Release.Name }}\n"
            "spec:\n  selector:\n    app: {{ .Release.Name }}\n  ports:\n"
            "    - port: {{ .Values.service.port }}\n      targetPort: 80\n"
        ),
    }
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"hello-web/{name}")
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()
