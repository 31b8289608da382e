"""Head-office marketers receive the new manage_calendar permission."""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def grant(apps, schema_editor):
    app_config = apps.get_app_config("local_stores")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    Permission = apps.get_model("auth", "Permission")
    RoleGroup = apps.get_model("local_stores", "RoleGroup")
    NodeGroupObjectPermission = apps.get_model("local_stores", "NodeGroupObjectPermission")
    permission = Permission.objects.get(content_type__app_label="local_stores", codename="manage_calendar")
    for role_group in RoleGroup.objects.filter(role="head_office_marketer"):
        NodeGroupObjectPermission.objects.get_or_create(
            group_id=role_group.group_id, permission=permission, content_object_id=role_group.node_id
        )


class Migration(migrations.Migration):
    dependencies = [("local_stores", "0004_manage_calendar_permission"), ("auth", "0012_alter_user_first_name_max_length")]
    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
