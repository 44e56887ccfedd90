"""Kubernetes resource quantities (``500m``, ``2Gi``, ``1e3``): the one parser, shared by the
portal (capacity summaries) and kubesim (validation, quota, scheduling), and printing.

The value comes from ``kubernetes.utils.parse_quantity``; before it, the text must match the
API server's grammar (``parse_quantity`` alone also takes ``NaN``, ``1K`` or `` 1 ``, which a
real API server refuses).
"""

from __future__ import annotations

import re
from decimal import Decimal

from kubernetes.utils import parse_quantity

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
}
_RE = re.compile(r"^([+-]?[0-9.]+)([eE][+-]?[0-9]+|Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|)$")


class QuantityError(ValueError):
    """A string that is not a valid Kubernetes quantity."""


def parse(value: str | int | float) -> Decimal:
    """Return the quantity's value in base units (cores, bytes, items)."""
    if isinstance(value, bool):
        raise QuantityError(f"quantities must match the regular expression: {value!r}")
    text = str(value)
    if not _RE.match(text):
        raise QuantityError(
            "quantities must match the regular expression "
            "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
        )
    try:
        return parse_quantity(text)
    except ValueError as exc:  # e.g. "1.2.3": the grammar's digits-and-dots, not a number
        raise QuantityError(str(exc)) from exc


def is_binary(value: str) -> bool:
    return isinstance(value, str) and value.strip()[-2:] in _BINARY


def format_cpu(cores: Decimal) -> str:
    """``0.5`` → ``500m``; whole cores print without a suffix, as the API server canonicalises."""
    milli = (cores * 1000).to_integral_value()
    if milli % 1000 == 0:
        return str(int(milli // 1000))
    return f"{int(milli)}m"


def format_quantity(amount: Decimal, like: str | None = None) -> str:
    """Canonical form; binary suffixes when ``like`` used one (memory), else decimal."""
    if amount == 0:
        return "0"
    if like is not None and is_binary(like):
        for suffix in ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki"):
            unit = _BINARY[suffix]
            if amount % unit == 0:
                return f"{int(amount // unit)}{suffix}"
        if amount == amount.to_integral_value():
            return str(int(amount))
    if amount == amount.to_integral_value():
        whole = int(amount)
        for suffix, unit in (
            ("E", 10**18),
            ("P", 10**15),
            ("T", 10**12),
            ("G", 10**9),
            ("M", 10**6),
            ("k", 10**3),
        ):
            if whole % unit == 0 and whole >= unit:
                return f"{whole // unit}{suffix}"
        return str(whole)
    return format_cpu(amount)


def format_plain(value: Decimal | int) -> str:
    """Plain decimal for summaries: whole numbers without a fraction, others with three
    decimals."""
    value = Decimal(value)
    if value == value.to_integral_value():
        return str(int(value))
    return f"{value:.3f}"


def total(values: list[str]) -> str:
    """The sum of quantities, printed plain (``["500m", "2"]`` → ``2.500``)."""
    return format_plain(sum((parse(v) for v in values), start=Decimal(0)))
