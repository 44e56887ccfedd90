"""Kubernetes resource quantities ("500m", "16Gi", "2") as Decimals, for summing capacity."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

_SUFFIXES = {
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "E": 10**18,
}


def parse_quantity(text: str | int | float) -> Decimal:
    value = str(text).strip()
    for suffix in sorted(_SUFFIXES, key=len, reverse=True):
        if value.endswith(suffix) and value != suffix:
            try:
                return Decimal(value[: -len(suffix)]) * Decimal(_SUFFIXES[suffix])
            except InvalidOperation as exc:
                raise ValueError(f"not a quantity: {text!r}") from exc
    try:
        return Decimal(value)
    except InvalidOperation as exc:
        raise ValueError(f"not a quantity: {text!r}") from exc


def format_quantity(value: Decimal | int) -> str:
    """Plain decimal: whole numbers without a fraction, others with three decimals."""
    value = Decimal(value)
    if value == value.to_integral_value():
        return str(int(value))
    return f"{value:.3f}"
