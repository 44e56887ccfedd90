from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "apps.monitoring"
    label = "monitoring"
    verbose_name = "Monitoring and alerting"

    def ready(self) -> None:
        from . import signals  # noqa: F401 - collect: cluster import/delete → monitoring
