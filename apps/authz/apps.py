from django.apps import AppConfig


class AuthzConfig(AppConfig):
    name = "apps.authz"
    label = "authz"
    verbose_name = "Authorization"

    def ready(self) -> None:
        from . import signals  # noqa: F401  (connects the policy-version bumps)
