"""The order the suite runs in (``tests/conftest.py``): the long tests spread over the
pytest-xdist workers, at the start of each worker's share.

``--dist worksteal`` hands each worker a contiguous share of the collection at the start, and
an idle worker later steals from the end of the busiest worker's queue — only tests that have
not started. Long tests collected together would run one after another on one worker, and the
run would end waiting on it; dealt round-robin to the head of every share, they run first
and everywhere, and the run ends on short tests that stealing can balance. Nothing depends on
this for correctness: if xdist split differently, the order would only be less balanced.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence


def shares(count: int, workers: int) -> list[int]:
    """The sizes of worksteal's first split of ``count`` tests over ``workers`` idle workers:
    each takes what is left divided by the workers still to serve."""
    sizes = []
    left = count
    for served in range(workers):
        size = left // (workers - served)
        sizes.append(size)
        left -= size
    return sizes


def spread(items: Sequence, rank: Callable[[object], int | None], workers: int) -> list:
    """``items`` with those ``rank`` ranks (lower first; ``None``: not slow) dealt round-robin,
    slowest first, to the head of each worker's share, the others after them in their order."""
    slow = sorted((item for item in items if rank(item) is not None), key=rank)
    rest = [item for item in items if rank(item) is None]
    dealt = [slow[worker::workers] for worker in range(workers)]
    ordered: list = []
    taken = 0
    for worker, size in enumerate(shares(len(items), workers)):
        fill = max(size - len(dealt[worker]), 0)
        ordered += dealt[worker] + rest[taken : taken + fill]
        taken += fill
    ordered += rest[taken:]
    return ordered
