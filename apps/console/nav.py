"""The console's navigation: what the signed-in person may use, and nothing else.

Each entry names the action that opens its page; an entry is shown when the policy layer
allows that action on at least something (``can_any``, the same test the API's list
endpoints make). Hiding a link is a courtesy, never the guard: every page authorizes itself
(``views.base.ConsoleView``). Pages register their entries here as they arrive.

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


@dataclass(frozen=True)
class Section:
    key: str
    label: str
    entries: tuple[Entry, ...]


PLATFORM: list[Section] = [
    Section(
        "home",
        _("Platform"),
        (Entry(_("Overview"), "console:overview", icon="speedometer"),),
    ),
]


def _model(label: str):
    if not label:
        return None
    from django.apps import apps

    return apps.get_model(label)


def _visible(user, entry: Entry) -> bool:
    return not entry.action or can_any(user, entry.action, model=_model(entry.model))


def platform_sections(user, current: str = "") -> list[dict]:
    sections = []
    for section in PLATFORM:
        entries = [
            {
                "label": entry.label,
                "url": reverse(entry.url_name),
                "icon": entry.icon,
                "active": entry.url_name == current,
            }
            for entry in section.entries
            if _visible(user, entry)
        ]
        if entries:
            sections.append({"key": section.key, "label": section.label, "entries": entries})
    return sections


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
