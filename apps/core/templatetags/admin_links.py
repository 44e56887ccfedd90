"""``{% load admin_links %}`` — the console's link to an object's admin page.

    {% admin_url cluster as admin_href %}
    {% if admin_href %}<a href="{{ admin_href }}">{% translate "Open in admin" %}</a>{% endif %}

``admin_url`` answers ``""`` unless the signed-in user is staff and the admin would let them
view that object (see :func:`apps.core.admin_links.admin_change_url`).
"""

from __future__ import annotations

from django import template

from apps.core.admin_links import admin_change_url

register = template.Library()


@register.simple_tag(takes_context=True)
def admin_url(context, obj) -> str:
    request = context.get("request")
    user = getattr(request, "user", None) or context.get("user")
    return admin_change_url(user, obj, request)
