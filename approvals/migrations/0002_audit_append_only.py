"""On PostgreSQL, the audit trail refuses UPDATE and DELETE at the database level too."""

from django.db import migrations

from config.migration_ops import postgresql_only

CREATE = """
CREATE OR REPLACE FUNCTION approvals_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the approvals audit trail is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER approvals_audit_append_only
    BEFORE UPDATE OR DELETE ON approvals_auditentry
    FOR EACH ROW EXECUTE FUNCTION approvals_audit_append_only();
"""
DROP = """
DROP TRIGGER IF EXISTS approvals_audit_append_only ON approvals_auditentry;
DROP FUNCTION IF EXISTS approvals_audit_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("approvals", "0001_proofs_and_policies")]
    operations = [postgresql_only(CREATE, DROP)]
