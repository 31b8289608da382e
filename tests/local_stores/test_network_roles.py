"""Roles granted on a node cover its subtree; grants and revocations take effect at once and are audited."""

import importlib

import pytest
from django.core.exceptions import ValidationError

from central.customers.selectors import customers_visible_to
from local_stores.models import (
    ROLE_PERMISSIONS,
    NodeGroupObjectPermission,
    NodeKind,
    Role,
    RoleAssignmentEvent,
    RoleGroup,
)
from local_stores.selectors import branches_visible_to, nodes_visible_to, roles_of
from local_stores.services import node_create, role_grant, role_revoke
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def codes(queryset) -> set[str]:
    return set(queryset.values_list("code", flat=True))


def test_a_role_on_a_region_covers_branches_added_later(world):
    manager = world.users["regional_manager"]
    assert codes(branches_visible_to(manager)) == {"N1", "N2"}
    node_create(parent=world.nodes["NORTH"], kind=NodeKind.BRANCH, code="N3", name="Douai")
    assert codes(branches_visible_to(manager)) == {"N1", "N2", "N3"}


def test_several_roles_on_several_nodes_add_up(world):
    user = UserFactory(username="multi")
    role_grant(user=user, node=world.nodes["N1"], role=Role.BRANCH_MANAGER)
    role_grant(user=user, node=world.nodes["S1"], role=Role.BRANCH_MANAGER)
    assert codes(branches_visible_to(user)) == {"N1", "S1"}
    assert {customer.branch.code for customer in customers_visible_to(user)} == {"N1", "S1"}
    assert [role for role, _node in roles_of(user)] == [Role.BRANCH_MANAGER, Role.BRANCH_MANAGER]


def test_revoking_a_role_removes_access_and_is_audited(world):
    manager = world.users["branch_manager"]
    role_revoke(user=manager, node=world.nodes["N1"], role=Role.BRANCH_MANAGER)
    assert not nodes_visible_to(manager).exists()
    assert not customers_visible_to(manager).exists()
    actions = list(RoleAssignmentEvent.objects.filter(user=manager).values_list("action", flat=True))
    assert actions == ["revoked", "granted"]


def test_granting_twice_is_harmless(world):
    manager = world.users["branch_manager"]
    role_grant(user=manager, node=world.nodes["N1"], role=Role.BRANCH_MANAGER)
    assert RoleAssignmentEvent.objects.filter(user=manager, action="granted").count() == 1


@pytest.mark.parametrize(
    ("role", "node"),
    [
        (Role.HEAD_OFFICE_MARKETER, "NORTH"),
        (Role.REGIONAL_MANAGER, "N1"),
        (Role.BRANCH_MANAGER, "NORTH"),
        ("emperor", "N1"),
    ],
)
def test_a_role_on_the_wrong_kind_of_node_is_refused(world, role, node):
    with pytest.raises(ValidationError):
        role_grant(user=UserFactory(username="x"), node=world.nodes[node], role=role)


def test_misplaced_nodes_and_duplicate_codes_are_refused(world):
    with pytest.raises(ValidationError):
        node_create(parent=world.nodes["N1"], kind=NodeKind.BRANCH, code="N9", name="Under a branch")
    with pytest.raises(ValidationError):
        node_create(
            parent=world.nodes["alpha:HQ"], kind=NodeKind.BRANCH, code="N9", name="Skipping the region"
        )
    with pytest.raises(ValidationError):
        node_create(parent=world.nodes["NORTH"], kind=NodeKind.BRANCH, code="N1", name="Same code")
    # The same code in another network is fine: networks are independent
    node_create(parent=world.nodes["WEST"], kind=NodeKind.BRANCH, code="N1", name="Beta's N1")


def test_global_model_permissions_give_no_access(world):
    from django.contrib.auth.models import Permission

    user = UserFactory(username="global")
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_node", "view_customers", "view_customer"])
    )
    assert not nodes_visible_to(user).exists()
    assert not customers_visible_to(user).exists()


def test_an_inactive_user_sees_nothing(world):
    manager = world.users["head_office"]
    manager.is_active = False
    manager.save()
    assert not customers_visible_to(manager).exists()


def test_every_role_group_holds_exactly_its_roles_permissions_after_the_regrant_migration(world):
    """The re-grant migration's frozen table is today's table, and every role group of the world
    holds exactly its role's permissions (the migration re-grants existing groups the same way)."""
    migration = importlib.import_module("local_stores.migrations.0008_network_events_append_only_and_regrant")
    assert {role: set(perms) for role, perms in migration.ROLE_PERMISSIONS.items()} == {
        str(role): set(perms) for role, perms in ROLE_PERMISSIONS.items()
    }
    for role_group in RoleGroup.objects.all():
        held = set(
            NodeGroupObjectPermission.objects.filter(
                group=role_group.group, content_object=role_group.node
            ).values_list("permission__codename", flat=True)
        )
        assert held == set(ROLE_PERMISSIONS[role_group.role]), role_group
