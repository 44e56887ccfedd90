"""Usage quantities from metrics.k8s.io are parsed without the Decimal parser when they are
digits and a suffix: the float is the exact value correctly rounded, and for every magnitude a
cluster reports, the very one the Decimal parser gives (its 28-digit context rounds once more
beyond 16 digits: 9999999999999999Ti)."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import example, given, settings
from hypothesis import strategies as st

from apps.core import quantity
from apps.monitoring.sources.kubernetes import _SCALE, _usage_num

SUFFIXES = sorted(_SCALE)
# Kubernetes' suffixes, written out here rather than taken from the code under test
VALUE = {
    "n": Fraction(1, 10**9),
    "u": Fraction(1, 10**6),
    "m": Fraction(1, 10**3),
    "": Fraction(1),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
    "Ki": Fraction(2**10),
    "Mi": Fraction(2**20),
    "Gi": Fraction(2**30),
    "Ti": Fraction(2**40),
    "Pi": Fraction(2**50),
    "Ei": Fraction(2**60),
}


def test_every_suffix_is_known():
    assert set(SUFFIXES) == set(VALUE)


@settings(max_examples=2000, deadline=None, derandomize=True, database=None)
@given(digits=st.integers(min_value=0, max_value=10**20), suffix=st.sampled_from(SUFFIXES))
@example(digits=9999999999999999, suffix="Ti")
@example(digits=2**53 + 1, suffix="m")
def test_digits_with_a_suffix_parse_to_the_exact_value_rounded_once(digits, suffix):
    assert _usage_num(f"{digits}{suffix}") == float(digits * VALUE[suffix])


@settings(max_examples=2000, deadline=None, derandomize=True, database=None)
@given(digits=st.integers(min_value=0, max_value=10**15), suffix=st.sampled_from(SUFFIXES))
@example(digits=61148000, suffix="n")
@example(digits=101491, suffix="Ki")
@example(digits=0, suffix="")
def test_digits_with_a_suffix_parse_to_the_decimal_parsers_float(digits, suffix):
    text = f"{digits}{suffix}"
    assert _usage_num(text) == float(quantity.parse(text))


def test_other_forms_and_absent_values_go_the_long_way():
    assert _usage_num("1.5Gi") == 1.5 * 2**30
    assert _usage_num("1e3") == 1000.0
    assert _usage_num("+250m") == 0.25
    assert _usage_num("") is None
    assert _usage_num(None) is None
    assert _usage_num("12x") is None  # not a quantity: absent, as before
