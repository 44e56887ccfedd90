"""Quota arithmetic on resource lists (``{"requests.cpu": "4", "pods": "100"}``).

One vocabulary everywhere: the names a Kubernetes ResourceQuota takes in ``spec.hard``. Short
names are accepted and normalised the way the API server reads them in a quota (``cpu`` is
``requests.cpu``, ``memory`` is ``requests.memory``); an extended resource (``nvidia.com/gpu``,
``tencent.com/vcuda-core``, any ``<domain>/<name>``) is only quotable as ``requests.<name>``,
which is what a bare one becomes. A resource a quota does not name is not limited by it, as in
Kubernetes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from decimal import Decimal

from apps.core import quantity

STANDARD = frozenset(
    {
        "requests.cpu",
        "limits.cpu",
        "requests.memory",
        "limits.memory",
        "requests.storage",
        "requests.ephemeral-storage",
        "limits.ephemeral-storage",
        "pods",
        "services",
        "services.loadbalancers",
        "services.nodeports",
        "persistentvolumeclaims",
        "configmaps",
        "secrets",
        "replicationcontrollers",
        "resourcequotas",
    }
)
SHORT = {
    "cpu": "requests.cpu",
    "memory": "requests.memory",
    "storage": "requests.storage",
    "ephemeral-storage": "requests.ephemeral-storage",
}
# Memory-like resources print in binary units.
BINARY = ("memory", "storage")
_EXTENDED = re.compile(
    r"^(requests\.)?([a-z0-9]([-a-z0-9.]*[a-z0-9])?/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$"
)
_COUNT = re.compile(r"^count/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")

Amounts = dict[str, Decimal]

# The largest amount a quota may name: what Kubernetes counts in an int64 (in base units).
# Beyond it the API server cannot hold the value, and the portal's arithmetic (Decimals of 28
# digits) and printing would fail rather than judge it.
MAX_AMOUNT = Decimal(2**63 - 1)


class QuotaError(ValueError):
    """A quota that is malformed or does not fit: ``errors`` maps a field to its messages."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
        self.errors = errors


def canonical_name(name: str) -> str | None:
    """The ResourceQuota name of ``name``, or None when a quota cannot hold it."""
    if not isinstance(name, str):
        return None
    name = SHORT.get(name, name)
    if name in STANDARD or _COUNT.match(name):
        return name
    match = _EXTENDED.match(name)
    if match and not name.startswith("limits."):
        return "requests." + match.group(2)
    return None


def normalize(hard: object, field: str = "hard") -> dict[str, str]:
    """A validated resource list with canonical names; QuotaError names each bad entry."""
    if hard is None:
        return {}
    if not isinstance(hard, Mapping):
        raise QuotaError({field: ["must be an object of resource name → quantity"]})
    out: dict[str, str] = {}
    errors: dict[str, list[str]] = {}
    for raw_name, raw_value in hard.items():
        where = f"{field}.{raw_name}"
        name = canonical_name(raw_name)
        if name is None:
            errors[where] = [
                f"{raw_name!r} is not a resource a quota can limit (cpu, memory, pods, storage, "
                "requests./limits. forms, count/<resource>, or an extended resource such as "
                "nvidia.com/gpu)"
            ]
            continue
        if name in out:
            errors[where] = [f"{raw_name!r} names {name} a second time"]
            continue
        try:
            amount = quantity.parse(raw_value if isinstance(raw_value, str) else str(raw_value))
        except quantity.QuantityError:
            errors[where] = [f"{raw_value!r} is not a Kubernetes quantity (e.g. 500m, 4, 16Gi)"]
            continue
        if amount < 0:
            errors[where] = ["must not be negative"]
            continue
        if amount > MAX_AMOUNT:
            errors[where] = [f"must be at most {MAX_AMOUNT} (what Kubernetes can count)"]
            continue
        out[name] = str(raw_value)
    if errors:
        raise QuotaError(errors)
    return out


def amounts(hard: Mapping[str, str] | None) -> Amounts:
    return {name: quantity.parse(value) for name, value in (hard or {}).items()}


def total(lists: Iterable[Mapping[str, str] | Amounts]) -> Amounts:
    """The sum, per resource, of resource lists (strings or amounts)."""
    out: Amounts = {}
    for rl in lists:
        for name, value in (rl or {}).items():
            amount = value if isinstance(value, Decimal) else quantity.parse(value)
            out[name] = out.get(name, Decimal(0)) + amount
    return out


def remaining(hard: Mapping[str, str] | Amounts, allocated: Amounts) -> Amounts:
    """What is left of ``hard`` once ``allocated`` is taken (only resources ``hard`` limits;
    negative when over-allocated, e.g. after the quota was lowered)."""
    limits = hard if all(isinstance(v, Decimal) for v in hard.values()) else amounts(hard)
    return {name: limit - allocated.get(name, Decimal(0)) for name, limit in limits.items()}


def shortfall(
    requested: Mapping[str, str] | Amounts, left: Amounts
) -> dict[str, tuple[Decimal, Decimal]]:
    """Resources where ``requested`` is more than ``left``: name → (requested, left)."""
    wanted = (
        requested if all(isinstance(v, Decimal) for v in requested.values()) else amounts(requested)
    )
    return {
        name: (amount, left[name])
        for name, amount in sorted(wanted.items())
        if name in left and amount > left[name]
    }


def unlimited_in(requested: Mapping[str, str], hard: Mapping[str, str]) -> list[str]:
    """Resources the parent limits but the child leaves unlimited (a child without a limit on
    something its parent limits could use all of it)."""
    return sorted(name for name in hard if name not in requested)


def fmt(name: str, amount: Decimal) -> str:
    like = "1Gi" if any(word in name for word in BINARY) else None
    return quantity.format_quantity(amount, like)


def describe_shortfall(short: dict[str, tuple[Decimal, Decimal]]) -> str:
    """``requests.cpu: 4 requested, 2 left; pods: 50 requested, 0 left``"""
    return "; ".join(
        f"{name}: {fmt(name, wanted)} requested, {fmt(name, max(left, Decimal(0)))} left"
        for name, (wanted, left) in short.items()
    )


def printable(values: Amounts) -> dict[str, str]:
    return {name: fmt(name, amount) for name, amount in sorted(values.items())}
