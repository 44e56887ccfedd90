"""apps.monitoring in the admin."""

# -- alerting (apps.monitoring.alerts) ---------------------------------------------------------
from .alerts import admin as alerts_admin  # noqa: F401  (registers the alerting admins)
