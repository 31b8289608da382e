from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LocalStoresConfig(AppConfig):
    name = "local_stores"
    verbose_name = _("Network")

    def ready(self) -> None:
        from local_stores import signals  # noqa: F401 - logins and second factors into the audit trail
