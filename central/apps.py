import hashlib

from django.apps import AppConfig
from django.db.backends.signals import connection_created
from django.utils.translation import gettext_lazy as _


def _sqlite_sha256(value):
    return None if value is None else hashlib.sha256(str(value).encode()).hexdigest()


def _register_sql_functions(sender, connection, **kwargs) -> None:
    """SQLite lacks SHA-256: give it ``relais_sha256`` (PostgreSQL has ``sha256``), used by the
    arbitration to match addresses against the hashed suppression list."""
    if connection.vendor == "sqlite":
        connection.connection.create_function("relais_sha256", 1, _sqlite_sha256, deterministic=True)


class CentralConfig(AppConfig):
    name = "central"
    verbose_name = _("Customers and operations")

    def ready(self) -> None:
        connection_created.connect(_register_sql_functions, dispatch_uid="central.sql_functions")
