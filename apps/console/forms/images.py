"""The registry pages' forms: an image namespace (create and edit).

Plain Django forms (no Kubernetes object behind them, so not ``register``-ed as kind forms);
the views turn their cleaned data into the service's keyword arguments.
"""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from apps.registry.choices import Visibility
from apps.registry.models import namespace_name_validator

MIB = 1024 * 1024
QUOTA_UNITS = (("MiB", "MiB"), ("GiB", "GiB"))
UNIT_BYTES = {"MiB": MIB, "GiB": 1024 * MIB}


def quota_initial(quota_bytes: int | None) -> tuple[int | None, str]:
    """(amount, unit) showing ``quota_bytes`` in the larger whole unit."""
    if quota_bytes is None:
        return None, "GiB"
    if quota_bytes % UNIT_BYTES["GiB"] == 0:
        return quota_bytes // UNIT_BYTES["GiB"], "GiB"
    return -(-quota_bytes // MIB), "MiB"


class RegistryNamespaceForm(forms.Form):
    """An image namespace: its name (at creation only), visibility, project, quota and
    description. ``projects``: the projects the user may choose (names)."""

    name = forms.CharField(
        label=_("Name"),
        max_length=63,
        validators=[namespace_name_validator],
        help_text=_("Lowercase letters and digits, joined by '.', '_' or '-'."),
    )
    display_name = forms.CharField(label=_("Display name"), max_length=128, required=False)
    visibility = forms.ChoiceField(
        label=_("Visibility"),
        choices=(
            (Visibility.PRIVATE, _("Private: pulling needs permission")),
            (Visibility.PUBLIC, _("Public: anyone may pull, anonymous too")),
        ),
        initial=Visibility.PRIVATE,
    )
    project = forms.ChoiceField(label=_("Project"), required=False)
    quota = forms.IntegerField(
        label=_("Storage quota"),
        required=False,
        min_value=1,
        max_value=1024 * 1024,
        help_text=_("Empty: no limit."),
    )
    quota_unit = forms.ChoiceField(
        label=_("Unit"), choices=QUOTA_UNITS, initial="GiB", required=False
    )
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, projects=(), editing=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["project"].choices = [("", _("None"))] + [(p, p) for p in projects]
        if editing:
            # A namespace is never renamed (its name is part of every image's name).
            del self.fields["name"]

    def quota_bytes(self) -> int | None:
        amount = self.cleaned_data.get("quota")
        if not amount:
            return None
        return amount * UNIT_BYTES[self.cleaned_data.get("quota_unit") or "GiB"]
