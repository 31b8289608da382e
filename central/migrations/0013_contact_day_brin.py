"""A BRIN index on the day of each past contact (PostgreSQL).

Contacts are written as messages leave, so their days follow the table's physical order: a block
range index of a few kilobytes lets the arbitration read only the contacts of the caps' windows
(the last two weeks of sixty days kept, say) instead of the whole table. SQLite has no BRIN; its
tables are small. Not declared in ``Contact.Meta``: Django's ``BrinIndex`` is PostgreSQL-only."""

from django.db import migrations

CREATE = "CREATE INDEX IF NOT EXISTS contact_day_brin ON central_contact USING brin (contacted_on)"
DROP = "DROP INDEX IF EXISTS contact_day_brin"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("central", "0012_network_rules_segment_caps")]

    operations = [migrations.RunPython(create, drop)]
