"""Helpers of the alerting tests: points written through the real store at chosen minutes,
policies made through the service, and the receivers, groups and channels they name (a policy
may name only those that exist in its tenant)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from apps.monitoring import partitions, store
from apps.monitoring.alerts import services
from apps.monitoring.catalog import CATALOG, POSITION
from apps.monitoring.models import ClusterMonitor
from apps.notify import services as notify
from apps.notify.models import NotifyChannel, NotifyTemplate, Receiver, ReceiverGroup
from tests.factories import make_cluster

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def minute(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


def monitored_cluster(tenant, display_name=None):
    cluster = make_cluster(tenant, display_name=display_name)
    ClusterMonitor.objects.create(tenant=tenant, cluster=cluster)
    partitions.ensure_partitions(T0 - timedelta(days=1))
    return cluster


def values(level: str, **metrics) -> list[float | None]:
    out: list[float | None] = [None] * len(CATALOG[level])
    for name, value in metrics.items():
        out[POSITION[(level, name)]] = value
    return out


def pod_row(key: str, kind="Deployment", workload="api", **metrics) -> store.Row:
    namespace, pod = key.split("/")
    labels = {"namespace": namespace, "pod": pod, "workload_kind": kind, "workload_name": workload}
    return store.Row("pod", key, values("pod", **metrics), labels)


def node_row(name: str, **metrics) -> store.Row:
    return store.Row("node", name, values("node", **metrics), {"node": name})


def write(cluster, at_minute: float, rows) -> None:
    # A collection lands a few seconds into its minute; the store keeps the minute.
    store.write(cluster, minute(at_minute) + timedelta(seconds=5), rows)


def recipients(
    tenant,
    receivers=("ops",),
    groups=("oncall",),
    channels=("mail",),
    templates=("alarm",),
) -> None:
    """The usual recipients of the tests' policies, made through apps.notify where missing:
    the receivers (``<name>@example.test``), the receiver groups (empty) and webhook channels
    (to a closed port) each with the ``templates``."""
    for name in receivers:
        if not Receiver.objects.filter(tenant=tenant, name=name).exists():
            notify.create_receiver(
                actor=None, tenant=tenant, name=name, email=f"{name}@example.test"
            )
    for name in groups:
        if not ReceiverGroup.objects.filter(tenant=tenant, name=name).exists():
            notify.create_group(actor=None, tenant=tenant, name=name)
    for name in channels:
        channel = NotifyChannel.objects.filter(tenant=tenant, name=name).first()
        if channel is None:
            channel = notify.create_channel(
                actor=None,
                tenant=tenant,
                name=name,
                kind="webhook",
                config={"url": f"http://127.0.0.1:9/{name}"},
                secret="hmac-key",  # noqa: S106
            )
        for template in templates:
            if not NotifyTemplate.objects.filter(channel=channel, name=template).exists():
                notify.create_template(
                    actor=None,
                    channel=channel,
                    name=template,
                    subject="{{ alertName }}",
                    body="{{ summary }}",
                )


def pod_policy(actor, cluster, name="pod-cpu", metrics=None, **fields):
    """A pod policy through the service; the tenant gets the usual :func:`recipients`."""
    recipients(cluster.tenant)
    defaults = {
        "type": "pod",
        "namespace": "web",
        "statistics_period": 60,
        "receivers": ["ops"],
        "notify_ways": [{"channel": "mail", "template": "alarm"}],
    }
    defaults.update(fields)
    return services.create_policy(
        actor=actor,
        tenant=cluster.tenant,
        cluster=cluster,
        name=name,
        metrics=metrics
        or [
            {
                "metric": "k8s_pod_cpu_core_used",
                "evaluator": "gt",
                "threshold": 0.5,
                "continue_periods": 1,
            }
        ],
        **defaults,
    )
