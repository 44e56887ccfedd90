"""Secret values hidden from those who may read Secrets but not ``revealSecret`` — one rule for
every door (REST resource API, kubectl proxy answers and watch events, console).

What is hidden: every value of ``data`` and ``stringData`` (keys stay visible, so people see
what a Secret holds), and the values inside kubectl's ``last-applied-configuration``
annotation, which embeds the whole applied object. ``data`` values stay valid base64 (of
``******``) so typed clients (``kubectl describe``, client-go) still decode the object.

Shapes handled, nested as the API server nests them: a Secret, a list (``items``), a
``meta.k8s.io`` Table (``rows[].object``: full objects or PartialObjectMetadata, whose
annotations carry last-applied too) and a watch event (``{"type", "object"}``).
"""

from __future__ import annotations

import base64
import copy
import json

MASK = "******"
MASK_B64 = base64.b64encode(MASK.encode()).decode()
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def _mask_fields(obj: dict) -> None:
    data = obj.get("data")
    if isinstance(data, dict):
        obj["data"] = {key: MASK_B64 for key in data}
    string_data = obj.get("stringData")
    if isinstance(string_data, dict):
        obj["stringData"] = {key: MASK for key in string_data}


def _mask_last_applied(obj: dict) -> None:
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict):
        return
    annotations = metadata.get("annotations")
    if not isinstance(annotations, dict) or LAST_APPLIED not in annotations:
        return
    try:
        applied = json.loads(annotations[LAST_APPLIED])
    except (TypeError, ValueError, RecursionError):
        applied = None
    if isinstance(applied, dict):
        _mask_fields(applied)
        annotations[LAST_APPLIED] = json.dumps(applied, separators=(",", ":"))
    else:
        annotations[LAST_APPLIED] = MASK


def _mask_in_place(doc) -> None:
    if isinstance(doc, list):
        for item in doc:
            _mask_in_place(item)
        return
    if not isinstance(doc, dict):
        return
    if doc.get("kind") == "Status":
        return
    if "type" in doc and isinstance(doc.get("object"), dict) and "metadata" not in doc:
        _mask_in_place(doc["object"])  # a watch event
        return
    if doc.get("kind") == "Table" and isinstance(doc.get("rows"), list):
        for row in doc["rows"]:
            if isinstance(row, dict) and isinstance(row.get("object"), dict):
                _mask_in_place(row["object"])
        return
    if isinstance(doc.get("items"), list):
        _mask_in_place(doc["items"])
        return
    _mask_fields(doc)
    _mask_last_applied(doc)


def mask_secrets(doc):
    """A copy of ``doc`` (a Secret, list, Table or watch event) with Secret values hidden."""
    masked = copy.deepcopy(doc)
    _mask_in_place(masked)
    return masked


def holds_mask(doc) -> bool:
    """Does a Secret body being written contain masked values (read back and sent again)?
    Writing them would replace real values with the mask."""
    if not isinstance(doc, dict):
        return False
    data = doc.get("data") if isinstance(doc.get("data"), dict) else {}
    string_data = doc.get("stringData") if isinstance(doc.get("stringData"), dict) else {}
    return MASK_B64 in data.values() or MASK in string_data.values()


# JSON-patch locations that hold a Secret's values (tokens compared lower-cased: erring on the
# side of refusing). A pointer at one of them, inside one, or at a parent of one (the whole
# object is ``""``) reads values.
_VALUE_LOCATIONS = (("data",), ("stringdata",), ("metadata", "annotations", LAST_APPLIED.lower()))
# The operations that read the document: copy and move read ``from``; test compares ``path``
# with a value the caller chose (a yes/no oracle on the value).
_READING_OPS = {"copy": "from", "move": "from", "test": "path"}


def json_patch_reading_secret(patch) -> str | None:
    """Why a JSON patch (RFC 6902) of a Secret would read its values — copy or move them where
    a reader sees them, or test guesses against them — or None. For those who may write
    Secrets but not ``revealSecret``; one rule for every door that relays a patch."""
    if not isinstance(patch, list):
        return None  # not a JSON patch: the API server refuses it as one
    for index, op in enumerate(patch):
        if not isinstance(op, dict):
            continue
        name = op.get("op")
        key = _READING_OPS.get(name.lower() if isinstance(name, str) else "")
        if key is None:
            continue
        pointer = op.get(key)
        if not isinstance(pointer, str) or (pointer and not pointer.startswith("/")):
            return f"operation {index} ({name}): {key} {pointer!r} is not a JSON pointer"
        tokens = tuple(
            t.replace("~1", "/").replace("~0", "~").lower() for t in pointer.split("/")[1:]
        )
        for location in _VALUE_LOCATIONS:
            shorter = min(len(tokens), len(location))
            if tokens[:shorter] == location[:shorter]:
                return (
                    f"operation {index} ({name}) reads {key} {pointer!r}, which holds or "
                    "contains the Secret's values: that needs revealSecret"
                )
    return None
