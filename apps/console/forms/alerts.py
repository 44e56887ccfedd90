"""Forms of the alarm console: an alarm policy (its metric conditions a repeating group that
gains and loses rows in the browser), a policy's copy and a silence (created, or edited).

The forms only shape what was typed; :mod:`apps.monitoring.alerts.services` validates (the
metric's level and unit, the namespace a type needs, a unique name, a silence that ends after
it starts) and its errors, named ``metrics.0.metric``, ``objects``, ``notify_ways.1``…, are put
next to the field that holds them (:meth:`PolicyForm.add_service_errors`).
"""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from apps.monitoring import catalog
from apps.monitoring.alerts.choices import (
    NAMESPACED_TYPES,
    Evaluator,
    ObjectsType,
    PolicyType,
    WorkloadKind,
)

from .base import RowForm, Rows, lines, unlines
from .render import RENDERER

NAME_HELP = _("Letters, digits, '.', '_' and '-', starting with a letter or digit.")
PERIODS = [(s, _("%(n)d min") % {"n": s // 60}) for s in (60, 120, 180, 240, 300)]
REPEATS = [
    (300, _("5 minutes")),
    (900, _("15 minutes")),
    (1800, _("30 minutes")),
    (3600, _("1 hour")),
    (7200, _("2 hours")),
    (14400, _("4 hours")),
    (86400, _("1 day")),
]
# A silence's length: the presets, or "custom" (the end given).
DURATIONS = {"1h": timedelta(hours=1), "4h": timedelta(hours=4), "1d": timedelta(days=1)}
DURATION_CHOICES = [
    ("1h", _("1 hour")),
    ("4h", _("4 hours")),
    ("1d", _("1 day")),
    ("custom", _("Until the end below")),
]
LOCAL_MINUTE = "%Y-%m-%dT%H:%M"
DATETIME_INPUT = forms.DateTimeInput(attrs={"type": "datetime-local"}, format=LOCAL_MINUTE)


def metric_choices() -> list:
    """The catalogue's metrics of every policy type, grouped by type, each with its unit
    (alerts.js shows only the chosen type's group)."""
    groups = []
    for level, label in PolicyType.choices:
        options = [
            (
                m.full_name(level),
                f"{gettext(m.display)} — {m.full_name(level)} ({gettext(catalog.UNITS[m.unit])})",
            )
            for m in catalog.CATALOG[level]
        ]
        groups.append((label, options))
    return [("", "—"), *groups]


class MetricRowForm(RowForm):
    """One condition: the period average of ``metric`` compared with ``threshold``."""

    significant = ("metric", "threshold")
    metric = forms.ChoiceField(label=_("Metric"), choices=metric_choices)
    evaluator = forms.ChoiceField(label=_("Condition"), choices=Evaluator.choices)
    threshold = forms.FloatField(label=_("Threshold"))
    continue_periods = forms.IntegerField(
        label=_("For periods"), min_value=1, max_value=100, initial=1
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["metric"].widget.attrs["data-metric-select"] = True

    def spec(self) -> dict:
        data = self.cleaned_data
        return {k: data[k] for k in ("metric", "evaluator", "threshold", "continue_periods")}


def _checked_choices(options: list[str], stored: list[str]) -> list[tuple[str, str]]:
    """The names offered, with the stored ones kept even when no longer offered."""
    names = list(dict.fromkeys([*options, *stored]))
    return [(n, n) for n in names]


class PolicyForm(forms.Form):
    """An alarm policy. Creating, the cluster and name are asked; editing, they are fixed."""

    default_renderer = RENDERER

    cluster = forms.ChoiceField(label=_("Cluster"))
    name = forms.CharField(label=_("Name"), max_length=60, help_text=NAME_HELP)
    type = forms.ChoiceField(label=_("Policy type"), choices=PolicyType.choices)
    namespace = forms.CharField(
        label=_("Namespace"),
        max_length=63,
        required=False,
        help_text=_("Workload and pod policies watch one namespace."),
    )
    workload_kind = forms.ChoiceField(
        label=_("Workload kind"),
        choices=[("", _("Any (pod policies)")), *WorkloadKind.choices],
        required=False,
    )
    objects_type = forms.ChoiceField(
        label=_("Objects"), choices=ObjectsType.choices, initial=ObjectsType.ALL
    )
    object_names = forms.CharField(
        label=_("Object names"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("With chosen objects: one node, workload or pod name a line."),
    )
    statistics_period = forms.TypedChoiceField(
        label=_("Statistics period"), choices=PERIODS, coerce=int, initial=60
    )
    receivers = forms.MultipleChoiceField(label=_("Receivers"), required=False)
    receiver_groups = forms.MultipleChoiceField(label=_("Receiver groups"), required=False)
    notify_ways = forms.MultipleChoiceField(
        label=_("Notify by (channel and template)"), required=False
    )
    repeat_interval = forms.TypedChoiceField(
        label=_("Repeat the notice every"), choices=REPEATS, coerce=int, initial=3600
    )
    enabled = forms.BooleanField(label=_("Enabled"), required=False, initial=True)

    def __init__(
        self,
        data=None,
        *,
        policy=None,
        clusters=(),
        receivers=(),
        groups=(),
        ways=(),
        initial=None,
    ):
        initial = dict(initial or {})
        if policy is not None:
            initial.update(self.project(policy))
        super().__init__(data, initial=initial)
        self.policy = policy
        self.metric_errors: list[str] = []
        if policy is not None:
            del self.fields["cluster"], self.fields["name"]
        else:
            self.fields["cluster"].choices = [
                (c.name, f"{c.display_name} ({c.name})") for c in clusters
            ]
        stored = initial if policy is not None else {}
        posted = data if data is not None else None
        for field, offered in (
            ("receivers", receivers),
            ("receiver_groups", groups),
        ):
            keep = list(stored.get(field) or []) + (posted.getlist(field) if posted else [])
            self.fields[field].choices = _checked_choices(list(offered), keep)
        keep_ways = list(stored.get("notify_ways") or []) + (
            posted.getlist("notify_ways") if posted else []
        )
        offered_ways = [f"{channel}:{template}" for channel, template in ways]
        self.fields["notify_ways"].choices = _checked_choices(offered_ways, keep_ways)
        repeat = initial.get("repeat_interval")
        if repeat and repeat not in dict(REPEATS):
            self.fields["repeat_interval"].choices = [
                *REPEATS,
                (repeat, _("%(s)d s") % {"s": repeat}),
            ]
        self.metrics = Rows(
            MetricRowForm,
            "metrics",
            data=data,
            initial=initial.get("metrics") or [{"evaluator": "gt", "continue_periods": 1}],
        )

    @staticmethod
    def project(policy) -> dict:
        return {
            "type": policy.type,
            "namespace": policy.namespace,
            "workload_kind": policy.workload_kind,
            "objects_type": policy.objects_type,
            "object_names": lines(policy.object_names),
            "statistics_period": policy.statistics_period,
            "receivers": list(policy.receivers),
            "receiver_groups": list(policy.receiver_groups),
            "notify_ways": [f"{w['channel']}:{w['template']}" for w in policy.notify_ways],
            "repeat_interval": policy.repeat_interval,
            "enabled": policy.enabled,
            "metrics": [
                {
                    "origin": str(m.pk),
                    "metric": m.metric,
                    "evaluator": m.evaluator,
                    "threshold": m.threshold,
                    "continue_periods": m.continue_periods,
                }
                for m in policy.metrics.all()
            ],
        }

    def is_valid(self) -> bool:
        valid = super().is_valid()
        return all([valid, self.metrics.is_valid()])

    def service_fields(self) -> dict:
        """The service's keyword arguments (without cluster and name)."""
        data = self.cleaned_data
        fields = {
            k: data[k]
            for k in (
                "type",
                "namespace",
                "workload_kind",
                "objects_type",
                "statistics_period",
                "receivers",
                "receiver_groups",
                "repeat_interval",
                "enabled",
            )
        }
        fields["namespace"] = data["namespace"].strip()
        if data["type"] not in NAMESPACED_TYPES:
            # The fields the page hides for this type are not sent, whatever they held.
            fields["namespace"] = fields["workload_kind"] = ""
        fields["object_names"] = [n.strip() for n in unlines(data["object_names"])]
        fields["notify_ways"] = [_way(value) for value in data["notify_ways"]]
        fields["metrics"] = [row.spec() for row in self.metrics.forms]
        return fields

    def add_service_errors(self, exc: ValidationError) -> None:
        """The service's errors beside their fields: ``metrics.<i>.<field>`` on the i-th row,
        ``objects`` on the object names, ``notify_ways.<i>`` on the ways; the rest on top."""
        errors = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
        rows = self.metrics.forms
        for field, said in errors.items():
            head, _sep, rest = field.partition(".")
            if head == "metrics" and rest:
                index, _sep, name = rest.partition(".")
                row = rows[int(index)] if index.isdigit() and int(index) < len(rows) else None
                if row is not None:
                    target = name if name in row.fields else None
                    for message in said:
                        row.add_error(target, message)
                    continue
            if head == "metrics":
                self.metric_errors.extend(said)
                continue
            name = {"objects": "object_names"}.get(head, head)
            target = name if name in self.fields else None
            for message in said:
                self.add_error(target, message)


def _way(value: str) -> dict:
    """``channel:template`` (the choice's value) as the service's ``{channel, template}``."""
    channel, _sep, template = value.partition(":")
    return {"channel": channel, "template": template}


class CopyForm(forms.Form):
    name = forms.CharField(label=_("Name of the copy"), max_length=60, help_text=NAME_HELP)


class SilenceForm(forms.Form):
    """A silence of one policy: all its objects and metrics, or one of each."""

    object_key = forms.CharField(
        label=_("Object"),
        max_length=512,
        required=False,
        help_text=_("Empty: every object. A pod is <namespace>/<pod>, a node its name."),
    )
    metric = forms.ChoiceField(label=_("Metric"), required=False)
    starts_at = forms.DateTimeField(label=_("Starts"), widget=DATETIME_INPUT, required=False)
    duration = forms.ChoiceField(label=_("Lasts"), choices=DURATION_CHOICES, initial="1h")
    ends_at = forms.DateTimeField(label=_("Ends"), widget=DATETIME_INPUT, required=False)
    comment = forms.CharField(
        label=_("Comment"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, data=None, *, policy, **kwargs):
        super().__init__(data, **kwargs)
        names = [m.metric for m in policy.metrics.all()]
        self.fields["metric"].choices = [("", _("Every metric")), *((n, n) for n in names)]

    def clean(self):
        data = super().clean()
        starts = data.get("starts_at") or timezone.now()
        data["starts_at"] = starts
        duration = data.get("duration")
        if duration in DURATIONS:
            data["ends_at"] = starts + DURATIONS[duration]
        elif duration == "custom" and not data.get("ends_at"):
            self.add_error("ends_at", gettext("Give the end, or choose how long it lasts."))
        return data

    def service_fields(self) -> dict:
        data = self.cleaned_data
        return {k: data[k] for k in ("object_key", "metric", "starts_at", "ends_at", "comment")} | {
            "object_key": data["object_key"].strip()
        }


class SilenceEditForm(SilenceForm):
    """A silence that has not ended, changed: what it covers, its start and end (given, no
    preset length) and its comment."""

    def __init__(self, data=None, *, silence, **kwargs):
        initial = {name: getattr(silence, name) for name in ("object_key", "metric", "comment")}
        for name in ("starts_at", "ends_at"):
            # As the browser's datetime-local input shows it, in the viewer's time zone.
            initial[name] = timezone.localtime(getattr(silence, name)).strftime(LOCAL_MINUTE)
        super().__init__(data, policy=silence.policy, initial=initial, **kwargs)
        del self.fields["duration"]
        for name in ("starts_at", "ends_at"):
            self.fields[name].required = True

    def clean(self):
        # The end is given: none of the create form's presets.
        return forms.Form.clean(self)
