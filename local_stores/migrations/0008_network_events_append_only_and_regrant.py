"""The network's audit trail refuses UPDATE and DELETE on PostgreSQL too; every role group is
re-granted exactly the permissions its role has now (manage_people, manage_identity and
edit_customers are new). The role table is frozen here as it stood when this migration was
written: a later change of a role's permissions comes with its own re-grant migration."""

from django.contrib.auth.management import create_permissions
from django.db import migrations


CREATE = """
CREATE OR REPLACE FUNCTION local_stores_network_event_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the network audit trail is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER local_stores_network_event_append_only
    BEFORE UPDATE OR DELETE ON local_stores_networkevent
    FOR EACH ROW EXECUTE FUNCTION local_stores_network_event_append_only();
"""
DROP = """
DROP TRIGGER IF EXISTS local_stores_network_event_append_only ON local_stores_networkevent;
DROP FUNCTION IF EXISTS local_stores_network_event_append_only();
"""

ROLE_PERMISSIONS = {
    "head_office_marketer": (
        "view_node", "change_node", "view_customers", "change_customers", "import_customers", "manage_network",
        "view_reports", "manage_templates", "manage_calendar", "manage_people", "manage_identity", "edit_customers",
    ),
    "regional_manager": ("view_node", "view_customers", "view_reports", "approve_proofs", "manage_people"),
    "branch_manager": ("view_node", "change_node", "view_customers", "edit_customers"),
    "approver": ("view_node", "approve_proofs"),
    "analyst": ("view_node", "view_reports"),
}


def append_only(apps, schema_editor):
    # Written here rather than with config.migration_ops: the network core imports no other package.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def append_only_undo(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


def regrant(apps, schema_editor):
    app_config = apps.get_app_config("local_stores")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    Permission = apps.get_model("auth", "Permission")
    RoleGroup = apps.get_model("local_stores", "RoleGroup")
    NodeGroupObjectPermission = apps.get_model("local_stores", "NodeGroupObjectPermission")
    codenames = {codename for codenames in ROLE_PERMISSIONS.values() for codename in codenames}
    permissions = {
        permission.codename: permission
        for permission in Permission.objects.filter(content_type__app_label="local_stores", codename__in=codenames)
    }
    for role_group in RoleGroup.objects.all():
        wanted = {permissions[codename].pk for codename in ROLE_PERMISSIONS.get(role_group.role, ())}
        held = NodeGroupObjectPermission.objects.filter(
            group_id=role_group.group_id, content_object_id=role_group.node_id
        )
        held.exclude(permission_id__in=wanted).delete()
        have = set(held.values_list("permission_id", flat=True))
        NodeGroupObjectPermission.objects.bulk_create(
            NodeGroupObjectPermission(group_id=role_group.group_id, permission_id=permission_id,
                                      content_object_id=role_group.node_id)
            for permission_id in wanted - have
        )


class Migration(migrations.Migration):
    dependencies = [("local_stores", "0007_network_self_service"), ("auth", "0012_alter_user_first_name_max_length")]
    operations = [migrations.RunPython(append_only, append_only_undo), migrations.RunPython(regrant, migrations.RunPython.noop)]
