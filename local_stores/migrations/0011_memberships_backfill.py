"""People who held roles before memberships existed become members of the network of their roles
(the people pages list members; deactivation, sessions and the "another network" checks read the
membership). A person inactive already is recorded deactivated. Someone holding roles in two networks
(possible before) joins the network of their first role: the other network's head office sees it on
the people page as a person to review."""

from django.conf import settings
from django.db import migrations


def backfill(apps, schema_editor):
    Membership = apps.get_model("local_stores", "Membership")
    RoleGroup = apps.get_model("local_stores", "RoleGroup")
    User = apps.get_model(settings.AUTH_USER_MODEL)
    members = set(Membership.objects.values_list("user_id", flat=True))
    first_network = {}
    for role_group in RoleGroup.objects.select_related("node").order_by("pk"):
        for user_id in User.objects.filter(groups=role_group.group_id).values_list("pk", flat=True):
            if user_id not in members:
                first_network.setdefault(user_id, role_group.node.network_id)
    inactive = set(User.objects.filter(pk__in=first_network, is_active=False).values_list("pk", flat=True))
    Membership.objects.bulk_create(
        Membership(user_id=user_id, network_id=network_id, source="command",
                   status="deactivated" if user_id in inactive else "active")
        for user_id, network_id in first_network.items()
    )


class Migration(migrations.Migration):
    dependencies = [("local_stores", "0010_audit_logins_second_factors"), migrations.swappable_dependency(settings.AUTH_USER_MODEL)]
    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
