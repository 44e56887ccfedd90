"""The alarm records page's filters (GET): state, cluster, policy, source, metric and object
(parts of the name), and a time window — the records that were open at some moment in it.
An invalid value is shown beside its field and that filter is not applied."""

from __future__ import annotations

from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from apps.monitoring.alerts.choices import RecordSource, RecordState

ANY = [("", _("Any"))]


class RecordFilterForm(forms.Form):
    state = forms.ChoiceField(label=_("State"), required=False, choices=ANY + RecordState.choices)
    cluster = forms.ChoiceField(label=_("Cluster"), required=False)
    policy = forms.CharField(label=_("Alarm policy"), required=False, max_length=253)
    source = forms.ChoiceField(
        label=_("Source"), required=False, choices=ANY + RecordSource.choices
    )
    metric = forms.CharField(label=_("Metric"), required=False, max_length=128)
    object = forms.CharField(label=_("Object"), required=False, max_length=512)
    since = forms.DateTimeField(
        label=_("Open after"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    until = forms.DateTimeField(
        label=_("Open before"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )

    def __init__(self, data, clusters: list[tuple[str, str]]):
        """``clusters``: (name, display name) of the clusters the person's records are in."""
        super().__init__(data, auto_id="record-%s")
        self.fields["cluster"].choices = ANY + clusters
        for field in self.fields.values():
            kind = "form-select" if isinstance(field, forms.ChoiceField) else "form-control"
            field.widget.attrs.setdefault("class", kind)

    def clean(self):
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and until < since:
            self.add_error("until", _("The end of the window is before its start."))
        return data

    def apply(self, queryset):
        """``queryset`` filtered by every valid field (call after ``is_valid``)."""
        data = {k: v for k, v in self.cleaned_data.items() if v not in ("", None)}
        if "state" in data:
            queryset = queryset.filter(state=data["state"])
        if "cluster" in data:
            queryset = queryset.filter(cluster__name=data["cluster"])
        if "policy" in data:
            queryset = queryset.filter(policy__name=data["policy"].strip())
        if "source" in data:
            queryset = queryset.filter(source=data["source"])
        if "metric" in data:
            queryset = queryset.filter(metric_name__icontains=data["metric"].strip())
        if "object" in data:
            queryset = queryset.filter(object_key__icontains=data["object"].strip())
        if "until" in data:  # opened before the window ended
            queryset = queryset.filter(started_at__lte=data["until"])
        if "since" in data:  # and still open, or closed, after it began
            queryset = queryset.filter(
                Q(resolved_at__isnull=True) | Q(resolved_at__gte=data["since"])
            )
        return queryset
