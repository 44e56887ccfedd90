from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        # OpenAPI extension; lockout system check; session stamps at sign-in; audit signals.
        from . import lockout, schema, sessions, signals  # noqa: F401
