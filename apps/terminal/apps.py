from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TerminalConfig(AppConfig):
    name = "apps.terminal"
    label = "terminal"
    verbose_name = _("Web terminal")
