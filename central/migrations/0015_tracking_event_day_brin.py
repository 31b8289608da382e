"""A BRIN index on when each tracking event was recorded (PostgreSQL): the roll-up task looks for
the events recorded since its last run; they are appended in time order, so a block range index of
a few kilobytes finds them without reading the table (see 0013)."""

from django.db import migrations

from config.migration_ops import postgresql_only

CREATE = "CREATE INDEX IF NOT EXISTS tracking_event_at_brin ON central_trackingevent USING brin (at)"
DROP = "DROP INDEX IF EXISTS tracking_event_at_brin"


class Migration(migrations.Migration):
    dependencies = [("central", "0014_delivery_provider_id")]

    operations = [postgresql_only(CREATE, DROP)]
