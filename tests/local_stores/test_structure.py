"""The network core's structure services: rename, move, close, reopen, each audited."""

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from local_stores import structure
from local_stores.models import NetworkEvent, Node, NodeKind
from local_stores.selectors import node_in_scope, nodes_in_scope

pytestmark = pytest.mark.django_db


def fresh(user):
    """The user as the next request loads them (no scope cached)."""
    return get_user_model().objects.get(pk=user.pk)


def test_moving_a_branch_rewrites_its_path_keeps_its_roles_and_is_audited(world):
    n1, north, south = world.nodes["N1"], world.nodes["NORTH"], world.nodes["SOUTH"]
    head_office, regional, manager = (world.users[name] for name in ("head_office", "regional_manager",
                                                                      "branch_manager"))
    assert node_in_scope(fresh(regional), n1)

    moved = structure.node_move(node=n1, new_parent=south, moved_by=head_office)

    assert moved.parent == south and moved.path == f"{south.path}{n1.public_id}/"
    assert Node.objects.get(pk=n1.pk).path == moved.path
    assert not node_in_scope(fresh(regional), moved), "the old region's manager no longer sees it"
    assert set(nodes_in_scope(fresh(regional)).filter(kind=NodeKind.BRANCH).values_list("code", flat=True)) == {"N2"}
    assert node_in_scope(fresh(manager), moved, perm="change_node"), "its own manager keeps the role"
    assert list(nodes_in_scope(fresh(manager))) == [moved]
    event = NetworkEvent.objects.get(action=NetworkEvent.Action.NODE_MOVED)
    assert (event.node, event.actor) == (moved, head_office)
    assert event.details["parent"] == {"old": north.public_id, "new": south.public_id}
    assert event.details["parent_name"] == {"old": "North", "new": "South"}


def test_a_move_goes_to_an_open_region_of_the_same_network_and_moves_branches_only(world):
    n1 = world.nodes["N1"]
    for target in (world.nodes["WEST"], world.nodes["N2"], world.nodes["alpha:HQ"]):
        with pytest.raises(ValidationError):
            structure.node_move(node=n1, new_parent=target)
    with pytest.raises(ValidationError):
        structure.node_move(node=world.nodes["NORTH"], new_parent=world.nodes["SOUTH"])
    east = structure.node_add(parent=world.nodes["alpha:HQ"], kind=NodeKind.REGION, code="EAST", name="East")
    structure.node_close(node=east)
    with pytest.raises(ValidationError):
        structure.node_move(node=n1, new_parent=east)
    assert Node.objects.get(pk=n1.pk).parent == world.nodes["NORTH"]
    assert not NetworkEvent.objects.filter(action=NetworkEvent.Action.NODE_MOVED).exists()


def test_rename_and_details_keep_old_and_new_values(world):
    n1, head_office = world.nodes["N1"], world.users["head_office"]
    structure.node_rename(node=n1, name="  Lille Centre ", renamed_by=head_office)
    structure.node_rename(node=n1, name="Lille Centre", renamed_by=head_office)  # the same: nothing recorded
    structure.node_details_update(node=n1, data={"city": "Lille", "phone": "03 20 00 00 00"}, updated_by=head_office)

    events = list(NetworkEvent.objects.filter(node=n1, action=NetworkEvent.Action.NODE_RENAMED).order_by("id"))
    assert [event.details for event in events] == [
        {"name": {"old": "Lille", "new": "Lille Centre"}},
        {"phone": {"old": "", "new": "03 20 00 00 00"}},  # the city did not change
    ]
    with pytest.raises(ValidationError):
        structure.node_details_update(node=n1, data={"code": "X"})


def test_close_and_reopen_keep_the_history(world):
    n2, head_office = world.nodes["N2"], world.users["head_office"]
    closed = structure.node_close(node=n2, closed_by=head_office)
    assert (closed.is_active, closed.closed_by) == (False, head_office) and closed.closed_at
    with pytest.raises(ValidationError, match="head office"):
        structure.node_close(node=world.nodes["alpha:HQ"])
    with pytest.raises(ValidationError, match="open branches"):
        structure.node_close(node=world.nodes["NORTH"])  # N1 is still open

    reopened = structure.node_reopen(node=closed, reopened_by=head_office)

    assert (reopened.is_active, reopened.closed_at, reopened.closed_by) == (True, None, None)
    actions = list(NetworkEvent.objects.filter(node=n2, action__startswith="node_").order_by("id")
                   .values_list("action", flat=True))
    assert actions == [NetworkEvent.Action.NODE_CLOSED, NetworkEvent.Action.NODE_REOPENED]


def test_a_branch_of_a_closed_region_reopens_only_after_the_region(world):
    head_office = world.users["head_office"]
    structure.node_close(node=world.nodes["S1"], closed_by=head_office)
    structure.node_close(node=world.nodes["SOUTH"], closed_by=head_office)
    with pytest.raises(ValidationError, match="region"):
        structure.node_reopen(node=world.nodes["S1"])
    with pytest.raises(ValidationError):
        structure.node_add(parent=world.nodes["SOUTH"], kind=NodeKind.BRANCH, code="S2", name="Sète")
    structure.node_reopen(node=world.nodes["SOUTH"])
    assert structure.node_reopen(node=world.nodes["S1"]).is_active
