"""Regional managers approve their branches' proofs: their role groups receive approve_proofs."""

from django.db import migrations


def grant(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    RoleGroup = apps.get_model("local_stores", "RoleGroup")
    NodeGroupObjectPermission = apps.get_model("local_stores", "NodeGroupObjectPermission")
    permission = Permission.objects.filter(content_type__app_label="local_stores", codename="approve_proofs").first()
    if permission is None:  # a fresh database: permissions are created after migrations, with the groups' grants
        return
    for role_group in RoleGroup.objects.filter(role="regional_manager"):
        NodeGroupObjectPermission.objects.get_or_create(
            group_id=role_group.group_id, permission=permission, content_object_id=role_group.node_id
        )


class Migration(migrations.Migration):
    dependencies = [("local_stores", "0005_grant_manage_calendar"), ("auth", "0012_alter_user_first_name_max_length")]
    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
