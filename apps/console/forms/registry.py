"""Which kinds have a console form: ``register("deployments", DeploymentForm)``.

One generic pair of views (``console:form-new``, ``console:form-edit``) serves every kind
registered here. Every module of the ``apps.console.forms`` package is imported when the
registry is first asked, so an area adds a form by adding a module there that calls
:func:`register` (modules elsewhere can be listed in ``FORM_MODULES``)."""

from __future__ import annotations

import importlib
import pkgutil

_FORMS: dict[str, type] = {}
# Further modules that register forms (imported lazily, with the package's own).
FORM_MODULES: list[str] = []
_loaded = False


def register(kind_plural: str, form_class: type) -> type:
    """Make ``form_class`` the form of ``kind_plural`` (``resources.KINDS`` keys)."""
    form_class.kind = kind_plural
    _FORMS[kind_plural] = form_class
    return form_class


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    import apps.console.forms as package

    found = [f"{package.__name__}.{info.name}" for info in pkgutil.iter_modules(package.__path__)]
    for module in [*found, *FORM_MODULES]:
        importlib.import_module(module)


def has_form(kind: str) -> bool:
    _load()
    return kind in _FORMS


def form_for(kind: str) -> type:
    """The form class of ``kind``; KeyError when it has none."""
    _load()
    return _FORMS[kind]


def kinds() -> list[str]:
    _load()
    return sorted(_FORMS)
