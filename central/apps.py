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


def _drop_run_decisions(sender, instance, **kwargs) -> None:
    """A run being deleted takes its decisions' partition with it (PostgreSQL)."""
    from central.arbitration import runs_drop_decisions

    runs_drop_decisions([instance.pk])


class CentralConfig(AppConfig):
    name = "central"
    verbose_name = _("Customers and operations")

    def ready(self) -> None:
        from django.db.models.signals import pre_delete

        connection_created.connect(_register_sql_functions, dispatch_uid="central.sql_functions")
        pre_delete.connect(_drop_run_decisions, sender="central.ArbitrationRun", dispatch_uid="central.run_partitions")
