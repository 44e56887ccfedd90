"""The chart pages' forms: a chart group, a chart upload, an install or upgrade of a release.

Plain Django forms; the views turn their cleaned data into the services' keyword arguments
(``apps.charts.services``, ``apps.charts.releases``).
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from apps.charts.choices import ChartVisibility
from apps.charts.models import group_name_validator, release_name_validator


class ChartGroupForm(forms.Form):
    """A chart group. The import password is write-only: never rendered back; left empty when
    editing, the stored one is kept."""

    name = forms.CharField(label=_("Name"), max_length=63, validators=[group_name_validator])
    display_name = forms.CharField(label=_("Display name"), max_length=128, required=False)
    visibility = forms.ChoiceField(
        label=_("Visibility"),
        choices=(
            (ChartVisibility.USER, _("User: you, and whom policy allows")),
            (ChartVisibility.PROJECT, _("Project: the project's members")),
            (ChartVisibility.PUBLIC, _("Public: anyone, anonymous Helm clients too")),
        ),
        initial=ChartVisibility.USER,
    )
    project = forms.ChoiceField(label=_("Project"), required=False)
    import_url = forms.URLField(
        label=_("Import from"),
        required=False,
        max_length=1024,
        assume_scheme="https",
        help_text=_(
            "A Helm repository to mirror (its index.yaml's base URL); empty for a group "
            "you upload charts to."
        ),  # fmt: skip
    )
    import_username = forms.CharField(label=_("Repository user"), max_length=255, required=False)
    import_password = forms.CharField(
        label=_("Repository password"),
        required=False,
        widget=forms.PasswordInput(render_value=False),
    )
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, projects=(), editing=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["project"].choices = [("", _("None"))] + [(p, p) for p in projects]
        if editing:
            del self.fields["name"]
            self.fields["import_password"].help_text = _("Empty: keep the stored password.")


class ChartUploadForm(forms.Form):
    """A chart archive (``.tgz``) and, optionally, its provenance file (``.prov``)."""

    chart = forms.FileField(
        label=_("Chart archive (.tgz)"),
        widget=forms.ClearableFileInput(attrs={"accept": ".tgz,.tar.gz,application/gzip"}),
    )
    prov = forms.FileField(
        label=_("Provenance file (.prov)"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": ".prov"}),
    )
    force = forms.BooleanField(label=_("Replace the version if it exists"), required=False)

    def clean_chart(self):
        upload = self.cleaned_data["chart"]
        limit = getattr(settings, "CHART_MAX_ARCHIVE_BYTES", 10 * 1024 * 1024)
        if upload.size > limit:
            raise forms.ValidationError(
                _("The archive is larger than %(limit)s bytes.") % {"limit": limit}
            )
        return upload


class ReleaseForm(forms.Form):
    """Install a chart version: where, under which name, with which values (YAML)."""

    cluster = forms.ChoiceField(label=_("Cluster"))
    namespace = forms.CharField(label=_("Namespace"), max_length=63)
    name = forms.CharField(
        label=_("Release name"), max_length=53, validators=[release_name_validator]
    )
    values = forms.CharField(
        label=_("Values (YAML)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 16, "spellcheck": "false"}),
    )

    def __init__(self, *args, clusters=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["cluster"].choices = list(clusters)


class UpgradeForm(forms.Form):
    """Upgrade a release: a version of its chart and the values (YAML)."""

    version = forms.ChoiceField(label=_("Chart version"))
    values = forms.CharField(
        label=_("Values (YAML)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 12, "spellcheck": "false"}),
    )

    def __init__(self, *args, versions=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["version"].choices = [(v, v) for v in versions]
