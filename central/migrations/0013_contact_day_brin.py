"""A BRIN index on the day of each past contact (PostgreSQL).

Contacts are written as messages leave, so their days follow the table's physical order: a block
range index of a few kilobytes lets the arbitration read only the contacts of the caps' windows
(the last two weeks of sixty days kept, say) instead of the whole table. SQLite has no BRIN; its
tables are small. Not declared in ``Contact.Meta``: Django's ``BrinIndex`` is PostgreSQL-only."""

from django.db import migrations

from config.migration_ops import postgresql_only

CREATE = "CREATE INDEX IF NOT EXISTS contact_day_brin ON central_contact USING brin (contacted_on)"
DROP = "DROP INDEX IF EXISTS contact_day_brin"


class Migration(migrations.Migration):
    dependencies = [("central", "0012_network_rules_segment_caps")]

    operations = [postgresql_only(CREATE, DROP)]
