"""Every write of apps.notify (atomic, taking the acting user), and :func:`notify`, which the
alerting code calls.

Writes reaching the portal over HTTP (API, admin) are audited by the audit middleware, one row
per request, named by the view. Validation errors name the field (``config.url``, ``secret``,
``body``…).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from . import delivery, rendering, senders
from .choices import MessageStatus, RequestStatus
from .models import Message, MessageRequest, NotifyChannel, NotifyTemplate, Receiver, ReceiverGroup

CHANNEL_FIELDS = ("display_name", "kind", "config", "secret", "enabled")
TEMPLATE_FIELDS = ("display_name", "subject", "body")
RECEIVER_FIELDS = ("display_name", "user", "email", "mobile", "wechat_id")


def _actor(actor):
    return actor if getattr(actor, "pk", None) else None


def _name_taken(model, field: str = "name", **lookup) -> None:
    if model.objects.filter(**lookup).exists():
        raise ValidationError({field: [_("The name %(name)s is taken.") % {"name": lookup[field]}]})


# -- channels ----------------------------------------------------------------------------------
def _clean_channel(channel: NotifyChannel) -> None:
    channel.config = senders.validate_config(channel.kind, channel.config, channel.secret)
    channel.full_clean(exclude=["config"])


@transaction.atomic
def create_channel(*, actor, tenant, name: str, **fields) -> NotifyChannel:
    _name_taken(NotifyChannel, tenant=tenant, name=name)
    channel = NotifyChannel(
        tenant=tenant,
        name=name,
        created_by=_actor(actor),
        **{k: v for k, v in fields.items() if k in CHANNEL_FIELDS and v is not None},
    )
    _clean_channel(channel)
    channel.save()
    return channel


@transaction.atomic
def update_channel(*, actor, channel: NotifyChannel, **changes) -> NotifyChannel:
    if "kind" in changes and changes["kind"] != channel.kind:
        raise ValidationError({"kind": [_("A channel's kind cannot be changed.")]})
    for name, value in changes.items():
        if name == "secret" and value is None:
            continue  # not given: keep the stored one (it is never echoed back to edit)
        if name in CHANNEL_FIELDS:
            setattr(channel, name, value)
    _clean_channel(channel)
    channel.save()
    return channel


@transaction.atomic
def delete_channel(*, actor, channel: NotifyChannel) -> None:
    """Delete the channel and its templates; its messages keep the channel's name."""
    channel.delete()


# -- templates ---------------------------------------------------------------------------------
def _clean_template(template: NotifyTemplate) -> None:
    rendering.validate_template(template.subject, template.body)
    template.full_clean()


@transaction.atomic
def create_template(*, actor, channel: NotifyChannel, name: str, **fields) -> NotifyTemplate:
    _name_taken(NotifyTemplate, channel=channel, name=name)
    template = NotifyTemplate(
        channel=channel, name=name, **{k: v for k, v in fields.items() if k in TEMPLATE_FIELDS}
    )
    _clean_template(template)
    template.save()
    return template


@transaction.atomic
def update_template(*, actor, template: NotifyTemplate, **changes) -> NotifyTemplate:
    for name, value in changes.items():
        if name in TEMPLATE_FIELDS:
            setattr(template, name, value)
    _clean_template(template)
    template.save()
    return template


@transaction.atomic
def delete_template(*, actor, template: NotifyTemplate) -> None:
    template.delete()


# -- receivers and groups ----------------------------------------------------------------------
def _clean_receiver(receiver: Receiver) -> None:
    if receiver.user_id is not None and receiver.user.tenant_id != receiver.tenant_id:
        raise ValidationError({"user": [_("Unknown user.")]})
    receiver.full_clean()


@transaction.atomic
def create_receiver(*, actor, tenant, name: str, **fields) -> Receiver:
    _name_taken(Receiver, tenant=tenant, name=name)
    receiver = Receiver(
        tenant=tenant, name=name, **{k: v for k, v in fields.items() if k in RECEIVER_FIELDS}
    )
    _clean_receiver(receiver)
    receiver.save()
    return receiver


@transaction.atomic
def update_receiver(*, actor, receiver: Receiver, **changes) -> Receiver:
    for name, value in changes.items():
        if name in RECEIVER_FIELDS:
            setattr(receiver, name, value)
    _clean_receiver(receiver)
    receiver.save()
    return receiver


@transaction.atomic
def delete_receiver(*, actor, receiver: Receiver) -> None:
    """Delete the receiver; its messages keep the receiver's name."""
    receiver.delete()


def _set_members(group: ReceiverGroup, receivers) -> None:
    receivers = list(receivers)
    if any(r.tenant_id != group.tenant_id for r in receivers):
        raise ValidationError({"receivers": [_("Unknown receiver.")]})
    group.receivers.set(receivers)


@transaction.atomic
def create_group(
    *, actor, tenant, name: str, display_name: str = "", receivers=()
) -> ReceiverGroup:
    _name_taken(ReceiverGroup, tenant=tenant, name=name)
    group = ReceiverGroup(tenant=tenant, name=name, display_name=display_name)
    group.full_clean()
    group.save()
    _set_members(group, receivers)
    return group


@transaction.atomic
def update_group(*, actor, group: ReceiverGroup, **changes) -> ReceiverGroup:
    if "display_name" in changes:
        group.display_name = changes["display_name"]
    group.full_clean()
    group.save()
    if changes.get("receivers") is not None:
        _set_members(group, changes["receivers"])
    return group


@transaction.atomic
def delete_group(*, actor, group: ReceiverGroup) -> None:
    group.delete()


# -- messages ----------------------------------------------------------------------------------
def mark_read(*, actor, message: Message, read: bool = True) -> Message:
    message.read_at = (message.read_at or timezone.now()) if read else None
    Message.objects.filter(pk=message.pk).update(read_at=message.read_at)
    return message


def _ways(ways) -> list[tuple[str, str]]:
    out = []
    for way in ways or ():
        if isinstance(way, dict):
            way = (way.get("channel"), way.get("template"))
        if isinstance(way, list | tuple) and len(way) == 2:
            out.append((str(way[0] or ""), str(way[1] or "")))
    return out


def _receivers(tenant, names: Iterable[str], group_names: Iterable[str], errors: list):
    names, group_names = list(dict.fromkeys(names or ())), list(dict.fromkeys(group_names or ()))
    by_name = {r.name: r for r in Receiver.objects.filter(tenant=tenant, name__in=names)}
    ordered: dict[int, Receiver] = {}
    for name in names:
        if name in by_name:
            ordered[by_name[name].pk] = by_name[name]
        else:
            errors.append(f"receiver {name}: not found")
    groups = {
        g.name: g
        for g in ReceiverGroup.objects.filter(tenant=tenant, name__in=group_names).prefetch_related(
            "receivers"
        )
    }
    for name in group_names:
        if name not in groups:
            errors.append(f"receiver group {name}: not found")
            continue
        for receiver in groups[name].receivers.all():
            ordered.setdefault(receiver.pk, receiver)
    return list(ordered.values())


def _build(request, receivers, channel, template, variables, errors) -> list[Message]:
    field = senders.destination_field(channel.kind)
    autoescape = rendering.autoescape_for(channel.kind)
    try:
        subject = rendering.render(template.subject, variables, autoescape=False, field="subject")
        body = rendering.render(template.body, variables, autoescape=autoescape)
    except ValidationError as exc:
        errors.append(f"template {channel.name}/{template.name}: {exc.messages[0]}")
        return []
    messages = []
    now = timezone.now()
    for receiver in receivers:
        destination = getattr(receiver, field) if field else channel.config.get("url", "")
        if not destination:
            errors.append(f"receiver {receiver.name}: no {field} for channel {channel.name}")
            continue
        messages.append(
            Message(
                tenant_id=request.tenant_id,
                request=request,
                receiver=receiver,
                receiver_name=receiver.name,
                channel=channel,
                channel_name=channel.name,
                channel_kind=channel.kind,
                template_name=template.name,
                destination=destination,
                subject=subject,
                body=body,
                alert_status=request.alert_status,
                source=request.source,
                next_attempt_at=now,
            )
        )
    return messages


def notify(
    *,
    tenant,
    receivers: Iterable[str] = (),
    receiver_groups: Iterable[str] = (),
    ways: Iterable = (),
    variables: dict | None = None,
    alert_status: str = "",
    source: str = "",
    actor=None,
) -> MessageRequest:
    """Create one message per (receiver × way) the receiver can be reached by and queue their
    delivery on the ``notify`` queue after commit. Unknown receivers, groups, channels and
    templates, disabled channels and receivers without the address a channel needs go in the
    request's ``errors``; this never raises for them."""
    (request,) = notify_many(
        tenant=tenant,
        receivers=receivers,
        receiver_groups=receiver_groups,
        ways=ways,
        alerts=[Alert(variables or {}, alert_status, source)],
        actor=actor,
    )
    return request


@dataclass(frozen=True)
class Alert:
    """One notice of :func:`notify_many`: its variables, ``firing`` / ``resolved`` (or
    empty), and where it came from (``alarmrecord:<id>``…)."""

    variables: dict
    status: str = ""
    source: str = ""


def notify_many(
    *,
    tenant,
    receivers: Iterable[str] = (),
    receiver_groups: Iterable[str] = (),
    ways: Iterable = (),
    alerts: Sequence[Alert],
    actor=None,
) -> list[MessageRequest]:
    """:func:`notify` for several alerts sent to the same receivers the same ways (an alarm
    policy's notices of one evaluation): the receivers, groups, channels and templates are
    looked up once, and the requests and messages written in one statement each. One
    request per alert, in order."""
    receivers = [receivers] if isinstance(receivers, str) else list(receivers or ())
    groups = [receiver_groups] if isinstance(receiver_groups, str) else list(receiver_groups or ())
    ways = _ways(ways)
    if not alerts:
        return []
    with transaction.atomic():
        routing_errors: list[str] = []
        people = _receivers(tenant, receivers, groups, routing_errors)
        channels = {
            c.name: c
            for c in NotifyChannel.objects.filter(
                tenant=tenant, name__in=[c for c, _t in ways]
            ).prefetch_related("templates")
        }
        usable = []
        for channel_name, template_name in ways:
            channel = channels.get(channel_name)
            if channel is None:
                routing_errors.append(f"channel {channel_name}: not found")
                continue
            if not channel.enabled:
                routing_errors.append(f"channel {channel_name}: disabled")
                continue
            template = next((t for t in channel.templates.all() if t.name == template_name), None)
            if template is None:
                routing_errors.append(f"template {channel_name}/{template_name}: not found")
                continue
            usable.append((channel, template))
        requests: list[MessageRequest] = []
        messages: list[Message] = []
        for alert in alerts:
            request = MessageRequest(
                tenant=tenant,
                receivers=list(receivers),
                receiver_groups=list(groups),
                ways=[list(w) for w in ways],
                variables=rendering.plain(alert.variables),
                alert_status=alert.status or "",
                source=(alert.source or "")[:255],
                created_by=_actor(actor),
            )
            errors = list(routing_errors)
            made: list[Message] = []
            for channel, template in usable:
                made.extend(_build(request, people, channel, template, request.variables, errors))
            if not people and not errors:
                errors.append("no receiver")
            request.errors = errors
            request.status = RequestStatus.PENDING if made else RequestStatus.FAILED
            requests.append(request)
            messages.extend(made)
        MessageRequest.objects.bulk_create(requests)
        Message.objects.bulk_create(messages)  # (each message's request now has its id)
        ids = [m.pk for m in messages]
        transaction.on_commit(lambda: _enqueue(ids))
    return requests


def _enqueue(ids: list[int]) -> None:
    from .tasks import deliver_message

    for message_id in ids:
        deliver_message.delay(message_id)


TEST_SUBJECT = "TKE Portal test message"
TEST_BODY = "This is a test message from channel {{ channel }} of TKE Portal."


def send_test(*, channel: NotifyChannel, actor, to: str = "", template: str = "") -> Message:
    """Send a test message through ``channel`` now (the test-send button) to ``to`` (an email
    address, mobile number or WeChat id; a webhook goes to its URL), with one of its templates
    rendered with sample variables or a short default text. The message is recorded (source
    ``test``) and its outcome returned: ``status`` sent or failed, ``last_error``."""
    field = senders.destination_field(channel.kind)
    if field and not to:
        raise ValidationError({"to": [_("Where to send the test message is required.")]})
    if field:
        try:  # the receivers' own rules for the field (an email address, a phone number…)
            Receiver._meta.get_field(field).clean(to, None)
        except ValidationError as exc:
            raise ValidationError({"to": exc.messages}) from None
    variables = {**SAMPLE_VARIABLES, "channel": channel.name}
    subject_source, body_source = TEST_SUBJECT, TEST_BODY
    if template:
        chosen = channel.templates.filter(name=template).first()
        if chosen is None:
            raise ValidationError({"template": [_("Unknown template.")]})
        subject_source, body_source = chosen.subject, chosen.body
    autoescape = rendering.autoescape_for(channel.kind)
    message = Message.objects.create(
        tenant=channel.tenant,
        channel=channel,
        channel_name=channel.name,
        channel_kind=channel.kind,
        template_name=template,
        receiver_name=getattr(actor, "username", "") or "",
        destination=to if field else channel.config.get("url", ""),
        subject=rendering.render(subject_source, variables, autoescape=False, field="subject"),
        body=rendering.render(body_source, variables, autoescape=autoescape),
        source="test",
        next_attempt_at=timezone.now(),
    )
    # One attempt, now: the person pressing the button wants the answer, not a retry later.
    outcome = delivery.deliver(message.pk)
    if outcome.status == "retry":
        Message.objects.filter(pk=message.pk).update(status=MessageStatus.FAILED)
    message.refresh_from_db()
    return message


SAMPLE_VARIABLES = {
    "alertName": "test-alert",
    "alarmPolicyName": "test-policy",
    "alarmPolicyType": "cluster",
    "clusterID": "cls-test",
    "clusterDisplayName": "Test cluster",
    "namespace": "",
    "workloadKind": "",
    "workloadName": "",
    "podName": "",
    "nodeName": "",
    "metricName": "k8s_cluster_cpu_core_used",
    "metricDisplayName": "CPU used",
    "value": "1.5",
    "unit": "core",
    "evaluateType": "gt",
    "evaluateValue": "1",
    "startsAt": "",
    "endsAt": "",
    "status": "firing",
    "summary": "A test message",
    "url": "",
}
