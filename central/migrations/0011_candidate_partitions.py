"""On PostgreSQL, ``central_candidate`` partitioned by run: the arbitration engine loads each run
into a table of its own, indexes it in one pass and attaches it; deleting a run drops its
partition. (Nothing changes on SQLite.) The table is empty here: 0010 recreated it."""

from django.db import migrations

PARTITION = [
    "CREATE TABLE central_candidate_partitioned (LIKE central_candidate INCLUDING DEFAULTS INCLUDING CONSTRAINTS) "
    "PARTITION BY LIST (run_id)",
    "DROP TABLE central_candidate",
    "ALTER TABLE central_candidate_partitioned RENAME TO central_candidate",
    "ALTER TABLE central_candidate ADD CONSTRAINT central_candidate_pkey PRIMARY KEY (run_id, customer_id, campaign_id)",
    "CREATE INDEX candidate_run_campaign ON central_candidate (run_id, campaign_id)",
]
UNPARTITION = [
    "CREATE TABLE central_candidate_plain (LIKE central_candidate INCLUDING DEFAULTS INCLUDING CONSTRAINTS)",
    "INSERT INTO central_candidate_plain SELECT * FROM central_candidate",
    "DROP TABLE central_candidate CASCADE",
    "ALTER TABLE central_candidate_plain RENAME TO central_candidate",
    "ALTER TABLE central_candidate ADD CONSTRAINT central_candidate_pkey PRIMARY KEY (run_id, customer_id, campaign_id)",
    "CREATE INDEX candidate_run_campaign ON central_candidate (run_id, campaign_id)",
]


def partition(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in PARTITION:
            schema_editor.execute(statement)


def unpartition(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in UNPARTITION:
            schema_editor.execute(statement)



class Migration(migrations.Migration):

    dependencies = [("central", "0010_candidate_keyed_by_pair")]

    operations = [migrations.RunPython(partition, unpartition)]
