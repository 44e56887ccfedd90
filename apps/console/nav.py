"""The console's navigation: what the signed-in person may use, and nothing else.

Each entry names the action that opens its page; an entry is shown when the policy layer
allows that action on at least something (``can_any``, the same test the API's list
endpoints make). Hiding a link is a courtesy, never the guard: every page authorizes itself
(``views.base.ConsoleView``). Each area registers its entries in ``apps/console/routes/<area>.py``
(``NAV`` for the platform menu, ``CLUSTER_TABS`` for a cluster's tabs).

Two views of one app, as in TKEStack: the *platform* console (clusters, projects, access,
audit) and the *project* console — one section per project the user is a member of.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from apps.authz.enforcer import can_any


@dataclass(frozen=True)
class Entry:
    label: str
    url_name: str
    action: str = ""  # "" = every signed-in user
    model: str = ""  # "app_label.Model" whose rows may belong to projects (can_any(model=))
    icon: str = ""
    # view names (or "console:prefix-*" patterns) that also mark this entry active
    also: tuple[str, ...] = ()


@dataclass(frozen=True)
class Section:
    key: str
    label: str
    entries: tuple[Entry, ...]


HOME = Section(
    "home",
    _("Platform"),
    (Entry(_("Overview"), "console:overview", icon="speedometer"),),
)


def platform() -> list[Section]:
    """The platform menu: the overview, then each area's sections in ``routes.AREAS`` order."""
    from .routes import modules

    return [HOME, *(section for module in modules() for section in module.NAV)]


def cluster_tabs() -> list[Entry]:
    """A cluster page's tabs, each area's in ``routes.AREAS`` order."""
    from .routes import modules

    return [entry for module in modules() for entry in module.CLUSTER_TABS]


def is_active(entry: Entry, current: str) -> bool:
    if not current:
        return False
    for name in (entry.url_name, *entry.also):
        if name == current or (name.endswith("*") and current.startswith(name[:-1])):
            return True
    return False


def _model(label: str):
    if not label:
        return None
    from django.apps import apps

    return apps.get_model(label)


def _visible(user, entry: Entry) -> bool:
    return not entry.action or can_any(user, entry.action, model=_model(entry.model))


def platform_sections(user, current: str = "") -> list[dict]:
    sections = []
    for section in platform():
        entries = [
            {
                "label": entry.label,
                "url": reverse(entry.url_name),
                "icon": entry.icon,
                "active": is_active(entry, current),
            }
            for entry in section.entries
            if _visible(user, entry)
        ]
        if entries:
            sections.append({"key": section.key, "label": section.label, "entries": entries})
    return sections


def visible_cluster_tabs(user, cluster: str, current: str = "") -> list[dict]:
    """The tabs of cluster ``cluster`` that ``user`` may open (each page still authorizes)."""
    return [
        {
            "label": entry.label,
            "url": reverse(entry.url_name, kwargs={"cluster": cluster}),
            "icon": entry.icon,
            "active": is_active(entry, current),
        }
        for entry in cluster_tabs()
        if _visible(user, entry)
    ]


def project_sections(user) -> list[dict]:
    """One entry per project the user is a member of (the project console)."""
    from apps.projects.access import portal_for

    return [
        {
            "name": project["name"],
            "label": project["display_name"] or project["name"],
            "roles": project["roles"],
        }
        for project in portal_for(user)["projects"]
    ]
