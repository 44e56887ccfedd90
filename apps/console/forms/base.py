"""Forms for Kubernetes objects that never drop a field.

A form shows some fields of an object and owns exactly those paths. It has three parts:

- the Django form (and its repeating groups, :class:`Rows`) for the fields it shows;
- :meth:`ObjectForm.project` — the initial values, read from a live object;
- :meth:`ObjectForm.merge_into` — a deep copy of the live object with ONLY the owned paths
  changed. Whatever the form does not show survives untouched: unknown fields, annotations,
  ``securityContext``, ``affinity``, ``initContainers``, a container's ``lifecycle``, an env
  var ``valueFrom.fieldRef`` the form cannot show …

List fields are merged item by item. Each row of a repeating group carries its ``origin``
(the key of the live item it was projected from: a container's or volume's name, a port's
position); the merged list keeps every live item the form does not show (at its place),
merges each shown item with its row, drops the shown items whose row the user removed and
appends new rows at the end. A row's fields overwrite only their own paths inside the item.

While merging, every path written is recorded with the form field it came from
(:attr:`ObjectForm.paths`), so a cluster's 422 causes (``details.causes[].field``, e.g.
``spec.template.spec.containers[1].image``) are shown next to that field
(:meth:`ObjectForm.add_cluster_errors`).
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Iterable

from django import forms
from django.conf import settings
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .render import RENDERER

DNS_LABEL_RE = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


# -- paths ---------------------------------------------------------------------------------------
def get_in(obj, path: Iterable, default=None):
    """The value at ``path`` (keys and list indices) in ``obj``, or ``default``."""
    current = obj
    for key in path:
        if isinstance(current, dict) and key in current:
            current = current[key]
        elif isinstance(current, list) and isinstance(key, int) and 0 <= key < len(current):
            current = current[key]
        else:
            return default
    return current


def put(obj: dict, path: tuple, value) -> None:
    """Set ``path`` to ``value``; ``None`` removes the key (without creating its parents).
    Integer keys index existing list items (never create them)."""
    *parents, last = path
    current = obj
    for key in parents:
        if isinstance(current, list) and isinstance(key, int):
            if not 0 <= key < len(current):
                return
            current = current[key]
            continue
        nxt = current.get(key) if isinstance(current, dict) else None
        if not isinstance(nxt, (dict, list)):
            if value is None:
                return
            nxt = current[key] = {}
        current = nxt
    if isinstance(current, list):
        if isinstance(last, int) and 0 <= last < len(current) and value is not None:
            current[last] = value
        return
    if value is None:
        current.pop(last, None)
    else:
        current[last] = value


def dotted(path: Iterable) -> str:
    """``("spec", "containers", 0, "image")`` → ``spec.containers[0].image`` (the cluster's
    field path notation; map keys as ``[key]``, like ``resources.requests[cpu]``)."""
    out = ""
    for key in path:
        if isinstance(key, int):
            out += f"[{key}]"
        elif out and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            out += f"[{key}]"
        else:
            out += f".{key}" if out else key
    return out


def digest(obj: dict | None) -> str:
    """What the form was made from, ignoring what changes without anyone editing (status,
    resourceVersion, generation, managedFields): a form saved over a different digest would
    overwrite a change it never showed the user. Keyed with the server's secret: the page
    holds it, and a plain hash of a Secret (or of any value the user may not read) would let
    anyone test guesses of that value against it."""
    if obj is None:
        return ""
    clean = copy.deepcopy(obj)
    clean.pop("status", None)
    meta = clean.get("metadata") or {}
    for key in ("resourceVersion", "generation", "managedFields"):
        meta.pop(key, None)
    raw = json.dumps(clean, sort_keys=True, separators=(",", ":"), default=str)
    mac = hmac.new(settings.SECRET_KEY.encode(), raw.encode(), hashlib.sha256)
    return mac.hexdigest()[:32]


def _short(text: str, limit: int = 600) -> str:
    """A cluster message can quote a whole object ("Invalid value: {…}"): keep it readable."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def lines(value) -> str:
    """A list of strings as a textarea's text, one per line."""
    return "\n".join(str(item) for item in value or [])


def unlines(text: str) -> list[str]:
    return [line.rstrip("\r") for line in (text or "").split("\n") if line.strip()]


# -- rows ------------------------------------------------------------------------------------------
class WithRows:
    """A form with repeating groups (``self.rows``: name → :class:`Rows`): valid when it and
    every row are; ``cleaned()`` is its data with each group's rows' data."""

    rows: dict

    def is_valid(self) -> bool:
        valid = super().is_valid()
        return all([valid, *(rows.is_valid() for rows in self.rows.values())])

    def cleaned(self) -> dict:
        data = dict(self.cleaned_data)
        for name, rows in self.rows.items():
            data[name] = rows.cleaned()
        data["_form"] = self
        return data


class RowForm(WithRows, forms.Form):
    """One row of a repeating group. ``origin`` names the live item it was read from ("" for a
    new row); it is also what makes a row posted with every field empty still a row."""

    default_renderer = RENDERER
    origin = forms.CharField(required=False, widget=forms.HiddenInput)
    # Field names whose value says "this row is blank" when empty (a blank new row is skipped).
    significant: tuple[str, ...] = ()
    groups: dict[str, tuple[type[RowForm], str]] = {}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.rows: dict[str, Rows] = {}
        for name, (form_class, placeholder) in self.groups.items():
            self.rows[name] = Rows(
                form_class,
                f"{self.prefix}-{name}",
                data=self.data if self.is_bound else None,
                initial=(self.initial or {}).get(name) or [],
                placeholder=placeholder,
            )

    @property
    def row_html(self) -> SafeString:
        """The row as ``console/forms/_row.html`` draws it (every field in a line and a
        remove button), built in Python: a form may have hundreds of rows."""
        cells = "".join(f'<div class="col-sm">{self[n].group}</div>' for n in self._visible())
        hidden = "".join(str(self[n]) for n in self.fields if n not in self._visible())
        remove = escape(gettext("Remove"))
        return mark_safe(  # noqa: S308 - every part rendered escaped
            '<div class="row-item border rounded p-2 mb-2">'
            f'<div class="row g-2 align-items-start">{cells}{hidden}'
            '<div class="col-sm-auto pt-4"><button type="button" class="btn btn-sm '
            f'btn-outline-danger mt-2" data-remove-row>{remove}</button></div></div></div>'
        )

    def _visible(self) -> list[str]:
        return [n for n, f in self.fields.items() if not f.widget.is_hidden]

    def is_blank(self) -> bool:
        if not self.is_bound or (self.data.get(self.add_prefix("origin")) or ""):
            return False
        if any(rows.forms for rows in self.rows.values()):
            return False
        return all(
            not (self.data.get(self.add_prefix(name)) or "").strip() for name in self.significant
        )


class Rows:
    """A repeating group: one :class:`RowForm` per row, named ``<prefix>-<n>-<field>``.

    Bound, the rows are those present in the data (any ``n``: the browser adds rows with
    fresh numbers and removes rows by removing their inputs, without a reload and without a
    management form). ``empty_form`` (``<prefix>-<placeholder>-…``) is the template a new row
    is cloned from; nested groups use a different placeholder."""

    def __init__(
        self,
        form_class: type[RowForm],
        prefix: str,
        data=None,
        initial: list[dict] | None = None,
        placeholder: str = "__i__",
    ):
        self.form_class, self.prefix, self.placeholder = form_class, prefix, placeholder
        if data is not None:
            pattern = re.compile(rf"^{re.escape(prefix)}-(\d+)-")
            found = sorted({int(m.group(1)) for key in data if (m := pattern.match(key))})
            forms_ = [form_class(data, prefix=f"{prefix}-{i}") for i in found]
            self.forms = [form for form in forms_ if not form.is_blank()]
            self.next = (found[-1] + 1) if found else 0
        else:
            self.forms = [
                form_class(initial=row, prefix=f"{prefix}-{i}")
                for i, row in enumerate(initial or [])
            ]
            self.next = len(self.forms)

    @property
    def empty_form(self) -> RowForm:
        return self.form_class(prefix=f"{self.prefix}-{self.placeholder}")

    def is_valid(self) -> bool:
        return all([form.is_valid() for form in self.forms])

    def cleaned(self) -> list[dict]:
        return [form.cleaned() for form in self.forms]

    def __iter__(self):
        return iter(self.forms)


def merge_rows(
    live_items: list | None,
    rows: list[dict],
    key: Callable[[dict, int], str],
    merge_item: Callable[[dict, dict, int], dict],
    shown: Callable[[dict], bool] = lambda item: True,
) -> list:
    """The merged list (see the module docstring). ``key(item, index)`` is an item's origin;
    ``merge_item(base, row, index)`` writes the row's owned paths into ``base`` (a deep copy
    of the live item, or ``{}`` for a new row) at output position ``index``."""
    live_items = live_items if isinstance(live_items, list) else []
    keyed = {key(item, i): item for i, item in enumerate(live_items) if isinstance(item, dict)}
    claimed: dict[str, dict] = {}
    for row in rows:
        origin = row.get("origin") or ""
        if origin and origin in keyed and shown(keyed[origin]) and origin not in claimed:
            claimed[origin] = row
    out: list = []
    for i, item in enumerate(live_items):
        if not isinstance(item, dict) or not shown(item):
            out.append(copy.deepcopy(item))
            continue
        row = claimed.get(key(item, i))
        if row is not None:
            out.append(merge_item(copy.deepcopy(item), row, len(out)))
    for row in rows:
        if not any(row is mine for mine in claimed.values()):
            out.append(merge_item({}, row, len(out)))
    return out


def project_rows(
    live_items: list | None,
    key: Callable[[dict, int], str],
    read: Callable[[dict], dict],
    shown: Callable[[dict], bool] = lambda item: True,
) -> list[dict]:
    """The initial rows of a group: each shown live item read, with its origin."""
    out = []
    for i, item in enumerate(live_items if isinstance(live_items, list) else []):
        if isinstance(item, dict) and shown(item):
            out.append({**read(item), "origin": key(item, i)})
    return out


def by_name(item: dict, index: int) -> str:
    return str(item.get("name") or f"#{index}")


def by_index(item: dict, index: int) -> str:
    return str(index)


# -- the object form -------------------------------------------------------------------------------
class ObjectForm(WithRows, forms.Form):
    """A form for one kind of object (registered in :mod:`.registry`).

    Subclasses set ``kind`` (the plural, as in ``apps.clusters.resources.KINDS``),
    ``template_name``, ``groups`` (repeating groups: name → (RowForm, placeholder)) and
    implement :meth:`project`, :meth:`merge_into` and :meth:`skeleton`. ``creating`` forms
    also own ``metadata.name`` (and the namespace, chosen by the view)."""

    kind = ""
    default_renderer = RENDERER
    template_name = "console/forms/generic.html"
    groups: dict[str, tuple[type[RowForm], str]] = {}

    name = forms.RegexField(
        label=_("Name"),
        regex=DNS_LABEL_RE,
        max_length=63,
        error_messages={
            "invalid": _(
                "Lowercase letters, digits and '-', starting and ending with a letter or digit."
            )
        },  # fmt: skip
    )
    basis = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, data=None, *, live: dict | None = None, **kwargs):
        self.live = live
        self.creating = live is None
        initial = self.project(live) if live is not None else self.blank()
        initial["basis"] = digest(live)
        super().__init__(data, initial=initial, **kwargs)
        if not self.creating:
            del self.fields["name"]
        self.rows: dict[str, Rows] = {}
        for name, (form_class, placeholder) in self.groups.items():
            self.rows[name] = Rows(
                form_class,
                name,
                data=self.data if self.is_bound else None,
                initial=initial.get(name) or [],
                placeholder=placeholder,
            )
        self.paths: dict[str, tuple[forms.Form, str]] = {}
        self.top_errors: list[str] = []

    @classmethod
    def done_url(cls, cluster: str, kind, namespace: str | None, name: str) -> str:
        """Where the console shows the object after a save (default: its object page)."""
        from ..views.forms import default_done_url

        return default_done_url(cluster, kind, namespace, name)

    # -- what a subclass provides ---------------------------------------------------------------
    @classmethod
    def project(cls, obj: dict) -> dict:
        """The form's initial values (groups as lists of row dicts) read from ``obj``."""
        raise NotImplementedError

    def blank(self) -> dict:
        """The initial values of a form creating a new object."""
        return {}

    def skeleton(self, namespace: str | None, name: str) -> dict:
        """The object a create starts from (``merge_into`` then fills in the form)."""
        raise NotImplementedError

    def merge_into(self, live: dict, cleaned: dict | None = None) -> dict:
        """A deep copy of ``live`` with the paths this form owns set from ``cleaned``
        (default: this form's cleaned data); every other path is kept."""
        raise NotImplementedError

    def build(self, namespace: str | None = None) -> dict:
        """The object to send: the live object merged, or a new one from the skeleton."""
        cleaned = self.cleaned()
        if self.creating:
            obj = self.skeleton(namespace, cleaned["name"])
            self.own(("metadata", "name"), self, "name")
            return self.merge_into(obj, cleaned)
        return self.merge_into(self.live, cleaned)

    # -- writing owned paths -----------------------------------------------------------------------
    def own(self, path: tuple, form: forms.Form | None, field: str) -> None:
        """Record that ``path`` comes from ``form``'s ``field`` (for the cluster's causes)."""
        if form is not None:
            self.paths[dotted(path)] = (form, field)

    def set(self, obj: dict, path: tuple, value, row: dict | None = None, field: str = ""):
        """Write an owned path (``None``/"" removes it) and remember which field it is."""
        put(obj, path, None if value == "" else value)
        source = (row or {}).get("_form", self) if row is not None else self
        self.own(path, source, field or str(path[-1]))

    # -- cluster errors ----------------------------------------------------------------------------
    def add_cluster_errors(self, causes: dict[str, list[str]], message: str = "") -> None:
        """Show each cause next to the field whose path it names (or whose path is the
        nearest recorded ancestor of it); the rest, and ``message``, at the top."""
        if message:
            self.top_errors.append(_short(message))
        for field_path, said in causes.items():
            target = self._field_for(field_path)
            for text in said:
                form, name = target if target else (None, "")
                if form is not None and name in form.fields:
                    form.add_error(name, _short(text))
                else:
                    self.top_errors.append(_short(f"{field_path}: {text}"))

    def _field_for(self, field_path: str):
        candidate = field_path
        while candidate:
            if candidate in self.paths:
                return self.paths[candidate]
            cut = max(candidate.rfind("."), candidate.rfind("["))
            candidate = candidate[:cut] if cut > 0 else ""
        return None
