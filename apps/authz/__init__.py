"""Authorization: ``check``, ``explain``, ``restrict`` and ``can_any`` (see enforcer.py)."""

from .enforcer import (
    can_any,
    check,
    check_collection,
    check_here_or_in_project,
    explain,
    restrict,
)
from .engine import Decision

__all__ = [
    "Decision",
    "can_any",
    "check",
    "check_collection",
    "check_here_or_in_project",
    "explain",
    "restrict",
]
