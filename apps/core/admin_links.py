"""Links between the Django admin and the web console, in both directions.

- Admin → console: :func:`console_link` renders a link to a console page by its URL name
  (``console:cluster`` with ``cluster=<Cluster.name>``, ``console:project`` with
  ``project=<Project.name>``, ``console:user`` with ``pk=<user.pk>``), or ``""`` while that
  page does not exist (the console is built area by area).
- Console → admin: :func:`admin_change_url` answers the admin change page of an object when
  the user may open it there (staff, the model registered, and the model admin's own view
  permission — the permission layer, tenant included — allows this object); ``""`` otherwise.
  Templates use the ``admin_url`` tag of ``apps/core/templatetags/admin_links.py``.
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.translation import gettext


def console_url(url_name: str, **kwargs) -> str:
    """The console page's URL, or ``""`` when no such route exists (yet)."""
    try:
        return reverse(url_name, kwargs=kwargs or None)
    except NoReverseMatch:
        return ""


def console_link(url_name: str, label: str | None = None, **kwargs) -> str:
    """An ``<a>`` to the console page ``url_name`` (kwargs as the route takes them), or ``""``
    when the route does not exist."""
    url = console_url(url_name, **kwargs)
    if not url:
        return ""
    label = label or gettext("Open in console")
    return format_html('<a class="tke-console-link" href="{}">{} ↗</a>', url, label)


def admin_change_url(user, obj, request: HttpRequest | None = None) -> str:
    """The admin change page of ``obj`` if ``user`` may view it in the admin, else ``""``.

    The model admin decides, as it does for the page itself (``has_view_permission`` goes to
    the permission layer with the object's tenant): a link is never shown to a page that
    would refuse the user."""
    if obj is None or getattr(obj, "pk", None) is None:
        return ""
    if not (user is not None and user.is_authenticated and user.is_active and user.is_staff):
        return ""
    model_admin = admin.site._registry.get(type(obj))
    if model_admin is None:
        return ""
    if request is None:
        request = HttpRequest()
    if getattr(request, "user", None) is not user:
        # The model admin reads the user from the request; do not alter the caller's.
        probe = HttpRequest()
        probe.user = user
        request = probe
    if not (
        model_admin.has_module_permission(request)
        and model_admin.has_view_or_change_permission(request, obj)
    ):
        return ""
    opts = obj._meta
    try:
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    except NoReverseMatch:
        return ""
