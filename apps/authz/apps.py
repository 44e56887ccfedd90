from django.apps import AppConfig


class AuthzConfig(AppConfig):
    name = "apps.authz"
    label = "authz"
    verbose_name = "Authorization"
