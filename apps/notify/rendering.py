"""Rendering notification templates in a sandbox.

A dedicated template :class:`~django.template.Engine` with no loaders (nothing is read from
disk: ``{% include %}`` and ``{% extends %}`` do not even exist in it), no libraries to
``{% load %}``, and as builtins only :mod:`apps.notify.sandbox`. The context is the alert
variables alone, reduced to plain JSON values (strings, numbers, booleans, lists and dicts of
them), so no object of the portal is reachable. Email bodies are HTML and autoescaped; SMS,
WeChat markdown and webhook texts are plain text (escaping would garble them; the webhook's
JSON encoding does its own).
"""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError
from django.template import Context, Engine, TemplateSyntaxError
from django.utils.translation import gettext as _

from .choices import ChannelKind

MAX_TEMPLATE_CHARS = 16 * 1024
MAX_OUTPUT_CHARS = 64 * 1024


class SandboxEngine(Engine):
    default_builtins = ["apps.notify.sandbox"]


_engine: SandboxEngine | None = None


def engine() -> SandboxEngine:
    global _engine
    if _engine is None:
        _engine = SandboxEngine(
            dirs=[], app_dirs=False, loaders=[], libraries={}, debug=False, autoescape=True
        )
    return _engine


def autoescape_for(kind: str) -> bool:
    return kind == ChannelKind.SMTP


def compile_template(source: str, field: str):
    """The compiled template, or a ValidationError naming ``field``."""
    if len(source) > MAX_TEMPLATE_CHARS:
        raise ValidationError(
            {field: [_("A template is at most %(n)d characters.") % {"n": MAX_TEMPLATE_CHARS}]}
        )
    try:
        return engine().from_string(source)
    except TemplateSyntaxError as exc:
        raise ValidationError(
            {field: [_("Invalid template: %(error)s") % {"error": exc}]}
        ) from None


def validate_template(subject: str, body: str) -> None:
    errors: dict[str, list[str]] = {}
    for field, source in (("subject", subject), ("body", body)):
        try:
            compile_template(source, field)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)


def plain(variables) -> dict:
    """The variables as plain JSON values (anything else becomes its string)."""
    if not isinstance(variables, dict):
        return {}
    return json.loads(json.dumps(variables, default=str))


def render(source: str, variables: dict, *, autoescape: bool, field: str = "body") -> str:
    """The text, or a ValidationError naming ``field`` (syntax, or a filter that failed on
    these variables: a value of the wrong type, nesting too deep)."""
    template = compile_template(source, field)
    try:
        text = template.render(Context(plain(variables), autoescape=autoescape))
    except (TemplateSyntaxError, ValueError, TypeError, ArithmeticError, RecursionError) as exc:
        message = _("The template failed with these variables: %(error)s") % {"error": exc}
        raise ValidationError({field: [message]}) from None
    return text[:MAX_OUTPUT_CHARS]
