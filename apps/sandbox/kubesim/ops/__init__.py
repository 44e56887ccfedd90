"""Write operations of a cluster, split by concern and combined into one mixin:

* :mod:`.writes` — decode, defaulting, validation, admission, create, update, commit;
* :mod:`.patching` — JSON / merge / strategic merge patch and server-side apply;
* :mod:`.deletion` — delete, graceful pod deletion, finalizers, garbage collection, namespaces;
* :mod:`.subresources` — scale, binding, eviction with PodDisruptionBudgets.
"""

from __future__ import annotations

from .deletion import Deletes
from .patching import (
    APPLY_PATCH,
    JSON_PATCH,
    MERGE_PATCH,
    STRATEGIC_PATCH,
    Patches,
    _unsupported_patch,
)
from .subresources import Subresources
from .writes import Writes


class Operations(Writes, Patches, Deletes, Subresources):
    """Mixin holding the write paths of :class:`~..cluster.Cluster`."""


__all__ = [
    "APPLY_PATCH",
    "JSON_PATCH",
    "MERGE_PATCH",
    "STRATEGIC_PATCH",
    "Operations",
    "_unsupported_patch",
]
