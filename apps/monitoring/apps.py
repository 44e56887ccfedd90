from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "apps.monitoring"
    label = "monitoring"
    verbose_name = "Monitoring and alerting"

    def ready(self):
        # The alerting tasks live in a sub-package Celery's autodiscovery does not import.
        from .alerts import tasks  # noqa: F401
