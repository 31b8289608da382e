from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CentralConfig(AppConfig):
    name = "central"
    verbose_name = _("Customers and operations")
