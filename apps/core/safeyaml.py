"""The one YAML loader for untrusted text (apply manifests, kubeconfig imports, audited bodies).

``yaml.safe_load`` builds whatever the text describes before anyone can look at it: nine
nested aliases ("billion laughs") expand to hundreds of millions of nodes, and 50,000 ``[``
overflow the recursive composer. Here the event stream (an iterative parser) is read first
and the text is refused — before a single object is built — when it uses an alias, nests
deeper than ``MAX_DEPTH``, holds more than ``MAX_DOCUMENTS`` documents or ``MAX_EVENTS``
nodes, or is longer than ``MAX_CHARS``. Aliases are refused rather than counted: Kubernetes
manifests do not need them, and a refusal cannot be tuned wrong.

What is built is plain JSON data, as Kubernetes itself reads YAML: timestamps stay strings,
and anything JSON cannot carry (binary, sets, non-string keys, NaN) is refused with the
path where it was found.
"""

from __future__ import annotations

import math

import yaml
from django.core.exceptions import ValidationError

MAX_CHARS = 4 * 1024 * 1024
MAX_DEPTH = 100
MAX_DOCUMENTS = 500
MAX_EVENTS = 1_000_000

_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _JSONLoader(_BaseLoader):
    """SafeLoader whose timestamps stay strings (``creationTimestamp`` is JSON text to the
    API server, and a ``datetime`` cannot be sent back as JSON)."""


_JSONLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}


class YAMLInputError(ValidationError):
    """Refused YAML; a 400 naming ``field`` in the API's error shape (a Django
    ValidationError, as services raise, so management commands report it too)."""

    def __init__(self, field: str, message: str):
        super().__init__({field: [message]})
        self.field = field
        self.reason = message


def load_all(text: str, *, field: str = "manifest") -> list:
    """Every document of ``text`` (empty ones dropped), or YAMLInputError naming ``field``;
    a value JSON cannot carry is named ``field[<document>].<path>``."""
    docs = _load(text, field)
    for index, doc in enumerate(docs):
        _check_json_data(doc, f"{field}[{index}]")
    return docs


def load(text: str, *, field: str):
    """The single document of ``text`` (None when empty)."""
    docs = _load(text, field)
    if len(docs) > 1:
        raise YAMLInputError(field, "Expected one YAML document, found several.")
    if not docs:
        return None
    _check_json_data(docs[0], field)
    return docs[0]


def _load(text: str, field: str) -> list:
    if len(text) > MAX_CHARS:
        raise YAMLInputError(field, f"Longer than {MAX_CHARS} characters.")
    _check_events(text, field)
    try:
        loaded = yaml.load_all(text, Loader=_JSONLoader)  # noqa: S506 (a SafeLoader)
        return [doc for doc in loaded if doc is not None]
    except yaml.YAMLError as exc:
        raise YAMLInputError(field, f"Not valid YAML/JSON: {exc}") from exc


def _check_events(text: str, field: str) -> None:
    depth = documents = events = 0
    try:
        for event in yaml.parse(text, Loader=_JSONLoader):
            events += 1
            if isinstance(event, yaml.AliasEvent):
                raise YAMLInputError(
                    field,
                    f"YAML aliases (*{event.anchor}) are not accepted: write the values out "
                    "(aliases let a short text expand to billions of nodes).",
                )
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    raise YAMLInputError(field, f"Nested deeper than {MAX_DEPTH} levels.")
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
            elif isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > MAX_DOCUMENTS:
                    raise YAMLInputError(field, f"More than {MAX_DOCUMENTS} documents.")
            if events > MAX_EVENTS:
                raise YAMLInputError(field, f"More than {MAX_EVENTS} YAML nodes.")
    except yaml.YAMLError as exc:
        raise YAMLInputError(field, f"Not valid YAML/JSON: {exc}") from exc


_SCALARS = (str, bool, int, type(None))


def _check_json_data(doc, field: str) -> None:
    """Iterative (the depth is bounded, but a walk needs no stack of its own to be safe)."""
    stack = [(doc, field)]
    while stack:
        value, where = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str):
                    raise YAMLInputError(where, f"Keys must be strings; found {key!r}.")
                stack.append((item, f"{where}.{key}"))
        elif isinstance(value, list):
            stack.extend((item, f"{where}[{i}]") for i, item in enumerate(value))
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise YAMLInputError(where, f"{value} cannot be sent as JSON.")
        elif not isinstance(value, _SCALARS):
            raise YAMLInputError(
                where, f"A {type(value).__name__} value cannot be sent as JSON; quote it."
            )
