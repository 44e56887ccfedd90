"""The only tags and filters a notification template may use (the sandbox's builtins).

A template is written by a tenant administrator and rendered by a shared worker, so it gets
Django's syntax without what reaches beyond the alert's variables or costs more than its own
length: no ``{% load %}`` (no other library), no ``{% include %}`` / ``{% extends %}`` /
``{% block %}`` (no loader: nothing is read from disk), no ``{% debug %}`` (it dumps the
context and the loaded modules), no ``{% url %}`` / ``{% csrf_token %}``; no loops
(``{% for %}``, ``{% cycle %}``, ``{% regroup %}``, ``{% lorem %}``), whose nesting would let a
short template run for hours; no padding filters with widths of the author's choosing
(``ljust``, ``rjust``, ``center``), and ``floatformat`` with at most 20 digits.
"""

from __future__ import annotations

from django.template import Library, defaultfilters, defaulttags

register = Library()

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
REFUSED_FILTERS = frozenset({"ljust", "rjust", "center", "floatformat", "pprint"})

for _name in ALLOWED_TAGS:
    register.tag(_name, defaulttags.register.tags[_name])

for _name, _function in defaultfilters.register.filters.items():
    if _name not in REFUSED_FILTERS:
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
