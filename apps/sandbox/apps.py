"""Django app config for the sandbox (kubesim) app."""

from django.apps import AppConfig


class SandboxConfig(AppConfig):
    """kubesim lives here; the app has no models."""

    name = "apps.sandbox"
    label = "sandbox"
    verbose_name = "Sandbox (kubesim)"
    default_auto_field = "django.db.models.BigAutoField"
