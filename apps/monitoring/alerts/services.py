"""Every write to alarm policies, silences and Alertmanager webhooks (atomic, taking the acting
user). Writes over HTTP are audited by the audit middleware, one row per request, named by the
view. Validation errors name the field as DRF names nested ones (``metrics.0.metric``)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from types import SimpleNamespace

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.authz.enforcer import restrict
from apps.notify.models import NotifyChannel, NotifyTemplate, Receiver, ReceiverGroup

from .. import catalog
from .choices import NAMESPACED_TYPES, OPEN_STATES, ObjectsType, PolicyType, RecordState
from .models import AlarmMetric, AlarmPolicy, AlarmRecord, AlarmSilence, AlertmanagerWebhook

POLICY_FIELDS = (
    "type",
    "namespace",
    "workload_kind",
    "objects_type",
    "object_names",
    "statistics_period",
    "receivers",
    "receiver_groups",
    "notify_ways",
    "repeat_interval",
    "enabled",
)
METRIC_FIELDS = ("metric", "evaluator", "threshold", "continue_periods", "unit")


def _actor(actor):
    return actor if getattr(actor, "pk", None) else None


# -- validation ------------------------------------------------------------------------------
def _names(value, field: str, errors: dict) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        errors[field] = [_("Give a list of names.")]
        return []
    return [v.strip() for v in value]


def clean_notify_ways(value, field: str, errors: dict) -> list[dict]:
    """``[{"channel", "template"}]``; TKEStack's ``"channel:template"`` strings are accepted."""
    if not isinstance(value, list):
        errors[field] = [_("Give a list of {channel, template}.")]
        return []
    ways = []
    for i, way in enumerate(value):
        if isinstance(way, str) and ":" in way:
            channel, _sep, template = way.partition(":")
            way = {"channel": channel, "template": template}
        if (
            not isinstance(way, dict)
            or not isinstance(way.get("channel"), str)
            or not isinstance(way.get("template"), str)
            or not way["channel"].strip()
            or not way["template"].strip()
        ):
            errors[f"{field}.{i}"] = [_("Give a channel name and a template name.")]
            continue
        ways.append({"channel": way["channel"].strip(), "template": way["template"].strip()})
    return ways


def clean_policy(policy: AlarmPolicy, metrics: list[dict] | None) -> list[dict] | None:
    """Check a policy and its metrics (as dicts) together; normalise both in place.
    ValidationError naming each bad field."""
    errors: dict[str, list[str]] = {}
    kind = policy.type
    if kind not in PolicyType.values:
        errors["type"] = [_("Choose one of: %s.") % ", ".join(PolicyType.values)]
    if kind in NAMESPACED_TYPES:
        if not policy.namespace:
            errors["namespace"] = [_("A %s policy names its namespace.") % kind]
        if kind == PolicyType.WORKLOAD and not policy.workload_kind:
            errors["workload_kind"] = [_("A workload policy names its workload kind.")]
    else:
        if policy.namespace:
            errors["namespace"] = [_("Only workload and pod policies name a namespace.")]
        if policy.workload_kind:
            errors["workload_kind"] = [_("Only workload and pod policies name a workload kind.")]
    policy.object_names = _names(policy.object_names, "objects", errors)
    if policy.objects_type == ObjectsType.PART:
        if kind == PolicyType.CLUSTER:
            errors["objects_type"] = [_("A cluster policy watches the cluster itself: use all.")]
        elif not policy.object_names and "objects" not in errors:
            errors["objects"] = [_("Name at least one object, or watch all.")]
    elif policy.objects_type == ObjectsType.ALL:
        policy.object_names = []
    policy.receivers = _names(policy.receivers, "receivers", errors)
    policy.receiver_groups = _names(policy.receiver_groups, "receiver_groups", errors)
    policy.notify_ways = clean_notify_ways(policy.notify_ways, "notify_ways", errors)
    if metrics is not None:
        metrics = _clean_metrics(kind, metrics, errors)
    taken = AlarmPolicy.objects.filter(cluster_id=policy.cluster_id, name=policy.name)
    if taken.exclude(pk=policy.pk).exists():
        errors["name"] = [_("The cluster already has an alarm policy named %s.") % policy.name]
    try:
        policy.full_clean(
            exclude=["tenant", "cluster", "created_by", "project_namespace"],
            validate_constraints=False,
        )
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            field = "objects" if field == "object_names" else field
            errors.setdefault(field, []).extend(messages)
    if errors:
        raise ValidationError(errors)
    return metrics


def _clean_metrics(kind: str, metrics: list[dict], errors: dict) -> list[dict]:
    if not metrics:
        errors["metrics"] = [_("A policy has at least one metric.")]
        return []
    level = kind  # policy type → catalogue level: the same word
    out = []
    seen = set()
    for i, spec in enumerate(metrics):
        field = f"metrics.{i}"
        name = spec.get("metric") or ""
        try:
            _level, short = catalog.resolve(name, level=level)
        except KeyError as exc:
            errors[f"{field}.metric"] = [
                _("%(error)s; a %(type)s policy takes k8s_%(type)s_… metrics.")
                % {"error": str(exc.args[0]), "type": kind}
            ]
            continue
        entry = catalog.metric(level, short)
        unit = spec.get("unit") or entry.unit
        if unit != entry.unit:
            errors[f"{field}.unit"] = [
                _("%(metric)s is measured in %(unit)s.") % {"metric": name, "unit": entry.unit}
            ]
        row = AlarmMetric(
            metric=name,
            evaluator=spec.get("evaluator") or "",
            threshold=spec.get("threshold"),
            continue_periods=spec.get("continue_periods", 1),
            unit=unit,
        )
        try:
            row.full_clean(exclude=["policy"], validate_constraints=False)
        except ValidationError as exc:
            for name_, messages in exc.message_dict.items():
                errors[f"{field}.{name_}"] = messages
            continue
        ident = (row.metric, row.evaluator, row.threshold)
        if ident in seen:
            errors[f"{field}.metric"] = [_("The same condition is listed twice.")]
            continue
        seen.add(ident)
        out.append({f: getattr(row, f) for f in METRIC_FIELDS})
    return out


def _recipients(target) -> dict[str, set]:
    """What a policy (or a cluster's Alertmanager webhook) names to send its notices to: the
    receivers, groups and channels by name, and ``templates``, the (channel, template)
    pairs."""
    return {
        "receivers": set(target.receivers),
        "receiver_groups": set(target.receiver_groups),
        "notify_ways": {way["channel"] for way in target.notify_ways},
        "templates": {(way["channel"], way["template"]) for way in target.notify_ways},
    }


def _stored_recipients(target: AlarmPolicy | AlertmanagerWebhook) -> dict[str, set[str]]:
    """What the row holds in the database: the instance may already carry the changes (the
    admin's form sets them before it saves), which are not what the policy "already had"."""
    stored = (
        type(target)
        ._base_manager.filter(pk=target.pk)
        .values("receivers", "receiver_groups", "notify_ways")
        .first()
    )
    return _recipients(SimpleNamespace(**stored)) if stored else {}


# field → (model, action) of what a policy names to send its notices to; the model's resource
# path is ``receiver:<name>``, ``receivergroup:<name>``, ``notifychannel:<name>``
RECIPIENT_KINDS = {
    "receivers": (Receiver, "getReceiver"),
    "receiver_groups": (ReceiverGroup, "getReceiverGroup"),
    "notify_ways": (NotifyChannel, "getNotifyChannel"),
}


def sendable(actor, tenant_id: int, field: str):
    """The receivers, receiver groups or channels (``field`` of a policy) of the tenant that
    ``actor`` may name in a policy: those they may read, in SQL (``restrict``: the rules and
    the object grants a list of them shows); every one for the system (``actor`` None) and
    the platform administrator; none for a user of another tenant."""
    model, action = RECIPIENT_KINDS[field]
    queryset = model.objects.filter(tenant_id=tenant_id)
    if actor is None:
        return queryset
    if not actor.is_superuser and getattr(actor, "tenant_id", None) != tenant_id:
        return queryset.none()
    return restrict(queryset, actor, action)


def check_recipients(actor, target: AlarmPolicy | AlertmanagerWebhook, before: dict) -> None:
    """A policy sends to receivers, receiver groups and through channels of its tenant: the
    writer may add only those that exist and that they may read. Else a project member could
    page anyone in the tenant, or run up the SMS gateway, with a policy on their own pods.
    Names the policy already had (``before``, of :func:`_recipients`) stay: an edit of a
    threshold is not refused because an administrator chose the receivers; a copy is a new
    policy, all its names are added. The same holds for a cluster's Alertmanager webhook
    defaults. One message for "missing" and "not yours": the answer does not tell which names
    exist. One query per kind that adds names. ValidationError naming the field."""
    errors: dict[str, list[str]] = {}
    named = _recipients(target)
    pairs = named.pop("templates")
    for field, names in named.items():
        added = sorted(names - before.get(field, set()))
        if not added:
            continue
        found = set(
            sendable(actor, target.tenant_id, field)
            .filter(name__in=added)
            .values_list("name", flat=True)
        )
        refused = [name for name in added if name not in found]
        if refused:
            errors[field] = [
                _("Nothing named %(names)s that you may send to.") % {"names": ", ".join(refused)}
            ]
    added_pairs = sorted(pairs - before.get("templates", set()))
    if added_pairs and "notify_ways" not in errors:
        refused = _unusable_templates(actor, target.tenant_id, added_pairs)
        if refused:
            errors["notify_ways"] = [
                _("Nothing named %(names)s that you may send to.")
                % {"names": ", ".join(f"{c}/{t}" for c, t in refused)}
            ]
    if errors:
        raise ValidationError(errors)


def _unusable_templates(actor, tenant_id: int, pairs: list[tuple[str, str]]) -> list:
    """The (channel, template) pairs that do not exist or that ``actor`` may not read
    (``getNotifyTemplate``): a message through a channel uses one of its templates."""
    lookup = Q()
    for channel, template in pairs:
        lookup |= Q(channel__name=channel, name=template)
    templates = NotifyTemplate.objects.filter(lookup, channel__tenant_id=tenant_id)
    if actor is not None and not actor.is_superuser:
        if getattr(actor, "tenant_id", None) != tenant_id:
            return pairs
        templates = restrict(templates, actor, "getNotifyTemplate")
    found = set(templates.values_list("channel__name", "name"))
    return [pair for pair in pairs if pair not in found]


# -- policies --------------------------------------------------------------------------------
@transaction.atomic
def create_policy(*, actor, tenant, cluster, name: str, metrics: list[dict], **fields):
    policy = AlarmPolicy(
        tenant=tenant,
        cluster=cluster,
        name=name,
        created_by=_actor(actor),
        **{k: v for k, v in fields.items() if k in POLICY_FIELDS},
    )
    metrics = clean_policy(policy, metrics)
    check_recipients(actor, policy, before={})
    policy.save()
    AlarmMetric.objects.bulk_create(AlarmMetric(policy=policy, **m) for m in metrics)
    return policy


@transaction.atomic
def update_policy(*, actor, policy: AlarmPolicy, metrics: list[dict] | None = None, **changes):
    """Change a policy; ``metrics`` (when given) replaces its conditions. A condition that
    stays (same metric, evaluator and threshold) keeps its open records; a removed condition's
    open records, and a disabled policy's, are closed silently (kept as history)."""
    was_enabled = policy.enabled
    before = _stored_recipients(policy)
    for name, value in changes.items():
        if name in POLICY_FIELDS:
            setattr(policy, name, value)
    metrics = clean_policy(policy, metrics)
    check_recipients(actor, policy, before)
    policy.save()
    if was_enabled and not policy.enabled:
        close_open_records(AlarmRecord.objects.filter(policy=policy))
    if metrics is not None:
        kept = {(m.metric, m.evaluator, m.threshold): m for m in policy.metrics.all()}
        wanted = {(m["metric"], m["evaluator"], m["threshold"]): m for m in metrics}
        removed = [m.pk for key, m in kept.items() if key not in wanted]
        close_open_records(AlarmRecord.objects.filter(metric_id__in=removed))
        AlarmMetric.objects.filter(pk__in=removed).delete()
        for key, spec in wanted.items():
            if key in kept:
                row = kept[key]
                row.continue_periods = spec["continue_periods"]
                row.unit = spec["unit"]
                row.save(update_fields=["continue_periods", "unit"])
            else:
                AlarmMetric.objects.create(policy=policy, **spec)
    return policy


def close_open_records(records) -> int:
    """Resolve, without a notice, the open records of what is no longer evaluated (a disabled
    policy, a removed condition): history keeps them, nothing stays firing forever."""
    now = timezone.now()
    return records.filter(state__in=OPEN_STATES).update(state=RecordState.RESOLVED, resolved_at=now)


@transaction.atomic
def copy_policy(*, actor, policy: AlarmPolicy, name: str) -> AlarmPolicy:
    """A new policy with the same settings and conditions (TKEStack's copy), named ``name``."""
    metrics = [{f: getattr(m, f) for f in METRIC_FIELDS} for m in policy.metrics.all()]
    return create_policy(
        actor=actor,
        tenant=policy.tenant,
        cluster=policy.cluster,
        name=name,
        metrics=metrics,
        **{f: getattr(policy, f) for f in POLICY_FIELDS},
    )


@transaction.atomic
def delete_policy(*, actor, policy: AlarmPolicy) -> None:
    """Delete the policy with its conditions, records and silences."""
    policy.delete()


@transaction.atomic
def delete_policies(*, actor, policies) -> list[str]:
    """Batch delete; the names deleted."""
    names = [p.name for p in policies]
    for policy in policies:
        policy.delete()
    return names


# -- silences --------------------------------------------------------------------------------
def _clean_silence(silence: AlarmSilence) -> None:
    errors: dict[str, list[str]] = {}
    if silence.ends_at is not None and silence.ends_at <= silence.starts_at:
        errors["ends_at"] = [_("A silence ends after it starts.")]
    if silence.metric:
        names = set(silence.policy.metrics.values_list("metric", flat=True))
        if silence.metric not in names:
            errors["metric"] = [
                _("The policy has no metric %(metric)s (it has: %(known)s).")
                % {"metric": silence.metric, "known": ", ".join(sorted(names))}
            ]
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def create_silence(*, actor, policy: AlarmPolicy, **fields) -> AlarmSilence:
    silence = AlarmSilence(
        tenant=policy.tenant,
        policy=policy,
        created_by=_actor(actor),
        **{k: v for k, v in fields.items() if k in ("object_key", "metric", "comment")},
    )
    if fields.get("starts_at"):
        silence.starts_at = fields["starts_at"]
    silence.ends_at = fields.get("ends_at")
    _clean_silence(silence)
    silence.save()
    return silence


@transaction.atomic
def update_silence(*, actor, silence: AlarmSilence, **changes) -> AlarmSilence:
    """Change a silence that has not ended (what the row holds: the admin's form sets the
    instance's fields first). An ended silence is history: make a new one (as Alertmanager
    does)."""
    stored = AlarmSilence.objects.filter(pk=silence.pk).values_list("ends_at", flat=True).first()
    if stored is not None and stored <= timezone.now():
        raise ValidationError(
            {"ends_at": [_("The silence has ended; an ended silence is not changed.")]}
        )
    for name in ("object_key", "metric", "comment", "starts_at", "ends_at"):
        if name in changes:
            setattr(silence, name, changes[name])
    _clean_silence(silence)
    silence.save()
    return silence


@transaction.atomic
def expire_silence(*, actor, silence: AlarmSilence, now: datetime | None = None) -> AlarmSilence:
    """End the silence now (a silence that has not started ends when it starts)."""
    now = now or timezone.now()
    if silence.ends_at > now:
        silence.ends_at = max(now, silence.starts_at)
        if silence.starts_at > now:
            silence.starts_at = silence.ends_at = now
        silence.save(update_fields=["starts_at", "ends_at"])
    return silence


@transaction.atomic
def delete_silence(*, actor, silence: AlarmSilence) -> None:
    silence.delete()


# -- Alertmanager webhooks -------------------------------------------------------------------
TOKEN_PREFIX = "amw_"  # noqa: S105 - the public prefix of generated tokens


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def rotate_webhook_token(*, actor, cluster) -> tuple[AlertmanagerWebhook, str]:
    """Create the cluster's webhook or replace its token: (row, the new token — shown once)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    webhook, _created = AlertmanagerWebhook.objects.select_for_update().get_or_create(
        cluster=cluster,
        defaults={"tenant": cluster.tenant, "token_hash": hash_token(token)},
    )
    webhook.token_hash = hash_token(token)
    webhook.token_prefix = token[: len(TOKEN_PREFIX) + 4]
    webhook.rotated_at = timezone.now()
    webhook.save()
    return webhook, token


def may_route_anywhere(actor, tenant) -> bool:
    """Whether ``actor`` may let alerts name their own receivers in ``tenant``: the system,
    the platform administrator and the tenant's administrators (who may send to every
    receiver, group and channel of it)."""
    if actor is None or getattr(actor, "is_superuser", False):
        return True
    from apps.authz.services import is_administrator

    return actor.tenant_id == tenant.pk and is_administrator(actor)


@transaction.atomic
def update_webhook(*, actor, webhook: AlertmanagerWebhook, **changes) -> AlertmanagerWebhook:
    """Where alerts naming no policy go; the writer adds only what :func:`check_recipients`
    lets them, and turns ``annotation_routing`` on only when :func:`may_route_anywhere`."""
    errors: dict[str, list[str]] = {}
    before = _stored_recipients(webhook)
    if "receivers" in changes:
        webhook.receivers = _names(changes["receivers"], "receivers", errors)
    if "receiver_groups" in changes:
        webhook.receiver_groups = _names(changes["receiver_groups"], "receiver_groups", errors)
    if "notify_ways" in changes:
        webhook.notify_ways = clean_notify_ways(changes["notify_ways"], "notify_ways", errors)
    if "repeat_interval" in changes:
        webhook.repeat_interval = changes["repeat_interval"]
    if "annotation_routing" in changes:
        # (what the row holds: the admin's form has already set the instance's field)
        was_on = AlertmanagerWebhook.objects.filter(pk=webhook.pk, annotation_routing=True)
        turned_on = bool(changes["annotation_routing"]) and not was_on.exists()
        webhook.annotation_routing = bool(changes["annotation_routing"])
        if turned_on and not may_route_anywhere(actor, webhook.tenant):
            errors["annotation_routing"] = [
                _(
                    "Only a tenant administrator may let the cluster's alerts choose their "
                    "receivers: they could name any receiver of the tenant."
                )
            ]
    if errors:
        raise ValidationError(errors)
    webhook.full_clean(exclude=["tenant", "cluster", "token_hash"])
    check_recipients(actor, webhook, before)
    webhook.save()
    return webhook
