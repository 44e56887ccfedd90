"""The only tags and filters a notification template may use (the sandbox's builtins).

A template is written by a tenant administrator and rendered by a shared worker, so it gets
Django's syntax without what reaches beyond the alert's variables or costs more than its own
length: no ``{% load %}`` (no other library), no ``{% include %}`` / ``{% extends %}`` /
``{% block %}`` (no loader: nothing is read from disk), no ``{% debug %}`` (it dumps the
context and the loaded modules), no ``{% url %}`` / ``{% csrf_token %}``; no loops
(``{% for %}``, ``{% cycle %}``, ``{% regroup %}``, ``{% lorem %}``), whose nesting would let a
short template run for hours; no padding filters with widths of the author's choosing
(``ljust``, ``rjust``, ``center``); ``floatformat`` with at most 20 digits, ``stringformat``
with widths and precisions of at most 64; and ``add`` and ``join``, which nested
``{% with %}`` blocks could otherwise double at every level, give up (an empty string) rather
than build a text longer than :data:`MAX_TEXT`.
"""

from __future__ import annotations

import re

from django.template import Library, defaultfilters, defaulttags

register = Library()
MAX_TEXT = 64 * 1024

ALLOWED_TAGS = (
    "autoescape",
    "comment",
    "filter",
    "firstof",
    "if",
    "now",
    "spaceless",
    "templatetag",
    "verbatim",
    "widthratio",
    "with",
)
REFUSED_FILTERS = frozenset({"ljust", "rjust", "center", "pprint"})
# Filters replaced below by bounded versions.
BOUNDED_FILTERS = frozenset({"floatformat", "stringformat", "add", "join"})

for _name in ALLOWED_TAGS:
    register.tag(_name, defaulttags.register.tags[_name])

for _name, _function in defaultfilters.register.filters.items():
    if _name not in REFUSED_FILTERS | BOUNDED_FILTERS:
        register.filters[_name] = _function


@register.filter(is_safe=True)
def floatformat(value, arg=-1):
    """``floatformat`` with the precision clamped to ±20 digits."""
    try:
        digits = int(str(arg).rstrip("gu") or -1)
    except ValueError:
        digits = -1
    digits = max(-20, min(20, digits))
    return defaultfilters.floatformat(value, digits)


_FORMAT = re.compile(r"^[-+ #0]*(\d*)(?:\.(\d*))?[sdifeEgGxXor]$")


@register.filter(is_safe=True)
def stringformat(value, arg):
    """``stringformat`` with widths and precisions of at most 64."""
    match = _FORMAT.match(str(arg))
    if not match or any(int(n or 0) > 64 for n in match.groups()):
        return ""
    return defaultfilters.stringformat(value, arg)


def _length(value) -> int:
    return len(value) if isinstance(value, str | list | tuple | dict) else len(str(value))


@register.filter(is_safe=False)
def add(value, arg):
    """``add``, giving up on results longer than MAX_TEXT."""
    if _length(value) + _length(arg) > MAX_TEXT:
        return ""
    return defaultfilters.add(value, arg)


@register.filter(is_safe=True, needs_autoescape=True)
def join(value, arg, autoescape=True):
    """``join``, giving up on results longer than MAX_TEXT (checked before joining)."""
    try:
        items = list(value)
    except TypeError:
        return value
    if len(items) * len(str(arg)) + sum(_length(i) for i in items) > MAX_TEXT:
        return ""
    return defaultfilters.join(items, arg, autoescape=autoescape)
