"""Operations the migrations share."""

from django.db import migrations


def postgresql_only(create: str, drop: str) -> migrations.RunPython:
    """Run ``create`` on PostgreSQL (``drop`` when unapplied), nothing elsewhere: for what only
    PostgreSQL has (a BRIN index, say)."""

    def forward(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(create)

    def backward(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(drop)

    return migrations.RunPython(forward, backward)
