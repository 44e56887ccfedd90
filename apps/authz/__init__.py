"""Authorization: ``check(user, action, resource, …)`` and ``restrict(queryset, user, action)``."""

from .enforcer import Decision, check, restrict

__all__ = ["Decision", "check", "restrict"]
