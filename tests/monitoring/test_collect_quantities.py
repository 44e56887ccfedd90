"""Usage quantities from metrics.k8s.io are parsed without the Decimal parser when they are
digits and a suffix: the float must be the very one the Decimal parser gives."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from apps.core import quantity
from apps.monitoring.sources.kubernetes import _SCALE, _usage_num

SUFFIXES = sorted(_SCALE)


@settings(max_examples=2000, deadline=None)
@given(digits=st.integers(min_value=0, max_value=10**20), suffix=st.sampled_from(SUFFIXES))
@example(digits=61148000, suffix="n")
@example(digits=101491, suffix="Ki")
@example(digits=2**53 + 1, suffix="m")
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
