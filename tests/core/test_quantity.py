"""One quantity parser for the portal and kubesim: kubernetes.utils.parse_quantity for the
value, behind the API server's grammar."""

from decimal import Decimal

import pytest
from kubernetes.utils import parse_quantity

from apps.core import quantity


@pytest.mark.parametrize(
    "text", ["500m", "2", "1.5", "16Gi", "3Ki", "250M", "1e3", "2E", "100n", "7u", "+4", "0.5k"]
)
def test_values_are_kubernetes_utils_parse_quantity(text):
    assert quantity.parse(text) == parse_quantity(text)


@pytest.mark.parametrize("text", ["NaN", "1K", " 1", "1 ", "1ki", "Infinity", "", "lots", "1.2.3"])
def test_what_the_api_server_refuses_is_refused(text):
    """parse_quantity alone takes some of these (NaN, 1K, padded numbers); the API server's
    grammar does not."""
    with pytest.raises(quantity.QuantityError):
        quantity.parse(text)


def test_numbers_and_summaries():
    assert quantity.parse(2) == Decimal(2)
    assert quantity.parse(0.1) == Decimal("0.1")  # not the binary float's expansion
    with pytest.raises(quantity.QuantityError):
        quantity.parse(True)
    assert quantity.total(["500m", "2"]) == "2.500"
    assert quantity.total(["1Gi", "1Gi"]) == str(2 * 2**30)
