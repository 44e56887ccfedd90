"""Fast rendering of the object forms' fields.

A workload form has a few hundred inputs (containers × env rows × probes, and each group's
row template). Django renders every widget through two or three templates; here the common
widgets (input, textarea, select, checkbox) and each field's group (label, input, help text,
errors) are built in Python — the same markup, every value escaped as the templates do —
and anything else falls back to Django's templates."""

from __future__ import annotations

import html

from django.forms.boundfield import BoundField
from django.forms.renderers import DjangoTemplates
from django.utils.safestring import SafeData, SafeString, mark_safe

_INPUTS = {
    "django/forms/widgets/text.html",
    "django/forms/widgets/number.html",
    "django/forms/widgets/hidden.html",
    "django/forms/widgets/email.html",
    "django/forms/widgets/url.html",
    "django/forms/widgets/password.html",
    "django/forms/widgets/search.html",
    "django/forms/widgets/input.html",
    "django/forms/widgets/checkbox.html",
}


def _e(value) -> str:
    """Django's conditional_escape without its lazy-argument wrapper (hot path)."""
    if isinstance(value, SafeData):
        return str(value)
    return html.escape(str(value), quote=True)


def _attrs(attrs: dict) -> str:
    out = []
    for name, value in attrs.items():
        if value is True:
            out.append(f" {_e(name)}")
        elif value is not False and value is not None:
            out.append(f' {_e(name)}="{_e(value)}"')
    return "".join(out)


def _widget(template_name: str, widget: dict) -> SafeString | None:
    if template_name in _INPUTS:
        value = widget.get("value")
        shown = f' value="{_e(value)}"' if value is not None else ""
        return mark_safe(  # noqa: S308 - every part escaped by _e
            f'<input type="{_e(widget["type"])}" name="{_e(widget["name"])}"{shown}'
            f"{_attrs(widget['attrs'])}>"
        )
    if template_name == "django/forms/widgets/textarea.html":
        return mark_safe(  # noqa: S308
            f'<textarea name="{_e(widget["name"])}"{_attrs(widget["attrs"])}>\n'
            f"{_e(widget.get('value') or '')}</textarea>"
        )
    if template_name == "django/forms/widgets/select.html":
        options = []
        for group_name, choices, _index in widget["optgroups"]:
            if group_name:
                return None  # optgroups: Django's template
            for option in choices:
                options.append(
                    f'<option value="{_e(option["value"])}"{_attrs(option["attrs"])}>'
                    f"{_e(option['label'])}</option>"
                )
        return mark_safe(  # noqa: S308
            f'<select name="{_e(widget["name"])}"{_attrs(widget["attrs"])}>'
            f"{''.join(options)}</select>"
        )
    return None


class ConsoleBoundField(BoundField):
    @property
    def group(self) -> SafeString:
        """The field as the console shows it: label, input, help text, errors beside it."""
        checkbox = self.widget_type == "checkbox"
        errors = self.errors
        classes = "form-field"
        if errors:
            classes += " has-error"
        if checkbox:
            classes += " form-check mt-4"
        label_class = ' class="form-check-label"' if checkbox else ""
        label = f'<label{label_class} for="{_e(self.id_for_label)}">{_e(self.label)}</label>'
        widget = str(self.as_widget())
        body = f"{widget} {label}" if checkbox else f"{label}{widget}"
        if self.help_text:
            body += f'<div class="form-text" id="{_e(self.auto_id)}_helptext">'
            body += f"{_e(self.help_text)}</div>"
        if errors:
            items = "".join(f"<li>{_e(e)}</li>" for e in errors)
            body += f'<ul class="errorlist field-errors" id="{_e(self.auto_id)}_error">{items}</ul>'
        return mark_safe(  # noqa: S308
            f'<div class="{classes}" data-field="{_e(self.html_name)}">{body}</div>'
        )


class FastRenderer(DjangoTemplates):
    bound_field_class = ConsoleBoundField

    def render(self, template_name, context, request=None):
        widget = context.get("widget") if isinstance(context, dict) else None
        if widget is not None:
            html = _widget(template_name, widget)
            if html is not None:
                return html
        return super().render(template_name, context, request)


RENDERER = FastRenderer()
__all__ = ["RENDERER", "ConsoleBoundField", "FastRenderer"]
