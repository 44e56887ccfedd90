"""The suite's order (tests/ordering.py): every test once, the slow ones at the head of the
worker shares that pytest-xdist's worksteal hands out first."""

from __future__ import annotations

from tests.ordering import shares, spread


def test_shares_are_worksteals_first_split():
    assert shares(10, 3) == [3, 3, 4]
    assert shares(3414, 3) == [1138, 1138, 1138]
    assert shares(2, 3) == [0, 1, 1]
    assert shares(7, 1) == [7]


def test_slow_tests_are_dealt_to_the_head_of_each_share():
    items = [f"t{i}" for i in range(30)]
    slow = {"t25": 0, "t26": 0, "t27": 1, "t3": 1, "t29": 2}
    ordered = spread(items, slow.get, workers=3)

    assert sorted(ordered) == sorted(items)  # every test once
    first, second, third = ordered[0:10], ordered[10:20], ordered[20:30]
    # slowest first (ties in collection order), round-robin: t25 t26 t3 t27 t29
    # → worker 0: t25 t27; worker 1: t26 t29; worker 2: t3
    assert first[:2] == ["t25", "t27"] and second[:2] == ["t26", "t29"] and third[:1] == ["t3"]
    rest = [t for t in ordered if t not in slow]
    assert rest == [t for t in items if t not in slow]  # the others keep their order


def test_without_slow_tests_or_workers_the_order_stays():
    items = list(range(12))
    assert spread(items, lambda item: None, workers=3) == items
    assert spread(items, {5: 0}.get, workers=1) == [5, *[i for i in items if i != 5]]
