"""The network core's people services: invitations used once, checked grants, deactivation that
cuts sessions and tokens at once, all audited."""

from __future__ import annotations

import importlib
import threading
from datetime import timedelta

import pytest
from django.apps import apps as django_apps
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token

from central.people.services import person_invite
from local_stores.models import Invitation, Membership, NetworkEvent, Role
from local_stores.people import (
    InvitationInvalid,
    NotInScope,
    invitation_accept,
    invitation_create,
    invitation_revoke,
    person_deactivate,
    person_reactivate,
    person_sessions_end,
    role_grant_checked,
    role_revoke_checked,
)
from local_stores.selectors import role_set_of
from tests.people_helpers import with_memberships

PASSWORD = "a-Long-enough-passphrase-42"
User = get_user_model()


def _invite(world, email="new.person@example.test", node="N1", role=Role.BRANCH_MANAGER):
    return invitation_create(node=world.nodes[node], email=email, role=role, invited_by=world.users["head_office"])


@pytest.mark.django_db
class TestInvitationLink:
    def test_accepted_once_then_refused(self, world):
        _invitation, token = _invite(world)
        user = invitation_accept(token=token, password=PASSWORD, first_name="Nina", last_name="Neuve")
        assert user.check_password(PASSWORD) and user.is_active
        assert Role.BRANCH_MANAGER in role_set_of(user)
        assert Membership.objects.get(user=user).network == world.networks["alpha"]
        with pytest.raises(InvitationInvalid):
            invitation_accept(token=token, password=PASSWORD)
        assert User.objects.filter(email="new.person@example.test").count() == 1

    def test_expired_refused(self, world):
        invitation, token = _invite(world)
        Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
        with pytest.raises(InvitationInvalid):
            invitation_accept(token=token, password=PASSWORD)
        assert not User.objects.filter(email="new.person@example.test").exists()

    def test_revoked_refused(self, world):
        invitation, token = _invite(world)
        invitation_revoke(actor=world.users["head_office"], invitation=invitation)
        with pytest.raises(InvitationInvalid):
            invitation_accept(token=token, password=PASSWORD)
        assert NetworkEvent.objects.filter(action=NetworkEvent.Action.INVITATION_REVOKED,
                                           actor=world.users["head_office"]).exists()

    def test_weak_password_refused_by_djangos_validators(self, world):
        _invitation, token = _invite(world)
        with pytest.raises(ValidationError):
            invitation_accept(token=token, password="1234")
        invitation_accept(token=token, password=PASSWORD)  # the link still works after a refusal

    def test_argon2id_with_production_hashers(self, world, settings):
        from config.settings import base

        settings.PASSWORD_HASHERS = base.PASSWORD_HASHERS
        _invitation, token = _invite(world)
        user = invitation_accept(token=token, password=PASSWORD)
        assert user.password.startswith("argon2$argon2id$")


@pytest.mark.django_db(transaction=True)
def test_two_accepts_racing_give_one_person(transactional_world):
    world = transactional_world
    _invitation, token = _invite(world)
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def accept() -> None:
        try:
            barrier.wait()
            invitation_accept(token=token, password=PASSWORD)
            outcomes.append("accepted")
        except InvitationInvalid:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=accept) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if connection.vendor == "postgresql":
        assert sorted(outcomes) == ["accepted", "refused"]
    assert User.objects.filter(email="new.person@example.test").count() == 1
    assert NetworkEvent.objects.filter(action=NetworkEvent.Action.INVITATION_ACCEPTED).count() == 1


@pytest.mark.django_db
class TestCheckedGrants:
    def test_regional_manager_grants_branch_manager_in_region_audited(self, world):
        with_memberships(world)
        regional, person = world.users["regional_manager"], world.users["sibling_branch_manager"]
        role_grant_checked(actor=regional, user=person, node=world.nodes["N1"], role=Role.BRANCH_MANAGER)
        event = NetworkEvent.objects.get(action=NetworkEvent.Action.ROLE_GRANTED, subject_user=person,
                                         node=world.nodes["N1"])
        assert event.actor == regional and event.details == {"role": "branch_manager"} and event.at
        role_revoke_checked(actor=regional, user=person, node=world.nodes["N1"], role=Role.BRANCH_MANAGER)
        revoked = NetworkEvent.objects.get(action=NetworkEvent.Action.ROLE_REVOKED, subject_user=person)
        assert revoked.actor == regional and revoked.node == world.nodes["N1"]

    def test_regional_manager_outside_region_not_in_scope(self, world):
        with_memberships(world)
        with pytest.raises(NotInScope):
            role_grant_checked(actor=world.users["regional_manager"], user=world.users["branch_manager"],
                               node=world.nodes["S1"], role=Role.BRANCH_MANAGER)

    @pytest.mark.parametrize("node, role", [("alpha:HQ", Role.HEAD_OFFICE_MARKETER), ("NORTH", Role.REGIONAL_MANAGER),
                                            ("N1", Role.APPROVER)])
    def test_regional_manager_head_office_roles_refused_with_reason(self, world, node, role):
        with_memberships(world)
        actor = world.users["regional_manager"]
        with pytest.raises((PermissionDenied, NotInScope)) as refusal:
            role_grant_checked(actor=actor, user=world.users["branch_manager"], node=world.nodes[node], role=role)
        if node == "N1":
            assert isinstance(refusal.value, PermissionDenied) and "head office" in str(refusal.value)

    def test_regional_manager_region_node_refused_403(self, world):
        with_memberships(world)
        with pytest.raises(PermissionDenied, match="branches of their region"):
            role_grant_checked(actor=world.users["regional_manager"], user=world.users["branch_manager"],
                               node=world.nodes["NORTH"], role=Role.APPROVER)

    def test_other_network_head_office_not_in_scope(self, world):
        with_memberships(world)
        with pytest.raises(NotInScope):
            role_grant_checked(actor=world.users["other_network_head_office"], user=world.users["branch_manager"],
                               node=world.nodes["W1"], role=Role.BRANCH_MANAGER)

    def test_nobody_changes_their_own_roles(self, world):
        with_memberships(world)
        head_office = world.users["head_office"]
        with pytest.raises(PermissionDenied, match="your own account"):
            role_revoke_checked(actor=head_office, user=head_office, node=world.nodes["alpha:HQ"],
                                role=Role.HEAD_OFFICE_MARKETER)
        assert Role.HEAD_OFFICE_MARKETER in role_set_of(head_office)

    def test_branch_manager_manages_nobody(self, world):
        with pytest.raises(NotInScope):
            role_grant_checked(actor=world.users["branch_manager"], user=world.users["sibling_branch_manager"],
                               node=world.nodes["N1"], role=Role.BRANCH_MANAGER)


@pytest.mark.django_db
class TestDeactivation:
    def test_session_and_token_refused_at_next_request(self, world):
        members = with_memberships(world)
        person = world.users["branch_manager"]
        browser = Client()
        browser.force_login(person)
        assert browser.get("/network/branches/").status_code == 200
        token = Token.objects.create(user=person)
        api = Client(HTTP_AUTHORIZATION=f"Token {token.key}")
        assert api.get("/api/v1/branches/").status_code == 200
        person_deactivate(actor=world.users["head_office"], membership=members["branch_manager"])
        assert browser.get("/network/branches/").status_code == 302  # back to the login page
        assert api.get("/api/v1/branches/").status_code in (401, 403)
        assert not Token.objects.filter(user=person).exists()
        membership = Membership.objects.get(pk=members["branch_manager"].pk)
        assert membership.status == "deactivated" and membership.deactivated_by == world.users["head_office"]
        assert membership.deactivated_at is not None
        assert NetworkEvent.objects.filter(action=NetworkEvent.Action.PERSON_DEACTIVATED, subject_user=person,
                                           actor=world.users["head_office"]).exists()
        person_reactivate(actor=world.users["head_office"], membership=membership)
        person.refresh_from_db()
        assert person.is_active and Role.BRANCH_MANAGER in role_set_of(person)

    def test_regional_manager_only_people_all_in_region(self, world):
        members = with_memberships(world)
        regional = world.users["regional_manager"]
        person = world.users["branch_manager"]
        role_grant_checked(actor=world.users["head_office"], user=person, node=world.nodes["S1"], role=Role.APPROVER)
        with pytest.raises(PermissionDenied, match="outside your region"):
            person_deactivate(actor=regional, membership=members["branch_manager"])
        person_deactivate(actor=regional, membership=members["sibling_branch_manager"])
        with pytest.raises(NotInScope):
            person_deactivate(actor=regional, membership=members["other_region_manager"])

    def test_end_sessions(self, world):
        members = with_memberships(world)
        browser = Client()  # logged in through the login page: allauth records the session
        browser.post("/accounts/login/", {"username": "analyst", "password": "secret-password"})
        assert person_sessions_end(actor=world.users["head_office"], membership=members["analyst"]) == 1
        assert browser.get("/").status_code == 302
        assert NetworkEvent.objects.filter(action=NetworkEvent.Action.SESSIONS_ENDED).exists()


@pytest.mark.django_db
def test_a_deactivated_person_is_not_brought_back_by_an_invitation(world):
    """Deactivation keeps the person's roles: an invitation would give them all back. It is refused
    both when inviting and when a link made before the deactivation is used."""
    members = with_memberships(world)
    person = world.users["head_office"]
    person.email = "marie@example.test"
    person.save()
    _invitation, token = invitation_create(node=world.nodes["N1"], email="marie@example.test",
                                          role=Role.BRANCH_MANAGER, invited_by=world.users["other_region_manager"])
    # deactivated (as person_deactivate leaves them: inactive, roles kept)
    Membership.objects.filter(pk=members["head_office"].pk).update(status=Membership.Status.DEACTIVATED)
    User.objects.filter(pk=person.pk).update(is_active=False)
    with pytest.raises(InvitationInvalid):
        invitation_accept(token=token, password=PASSWORD)
    assert not User.objects.get(pk=person.pk).is_active
    with pytest.raises(ValidationError) as refused:
        person_invite(actor=world.users["regional_manager"], email="marie@example.test", node=world.nodes["N1"],
                      role=Role.BRANCH_MANAGER)
    assert "reactivate them" in str(refused.value)


@pytest.mark.django_db
def test_people_with_roles_before_memberships_become_members_of_their_network(world):
    """The backfill migration: each person holding a role and no membership joins the network of
    their role (an inactive one as deactivated); existing memberships stay as they are."""
    backfill = importlib.import_module("local_stores.migrations.0011_memberships_backfill").backfill
    members = with_memberships(world)
    Membership.objects.exclude(pk=members["head_office"].pk).delete()
    User.objects.filter(pk=world.users["analyst"].pk).update(is_active=False)
    backfill(django_apps, connection.schema_editor())
    assert Membership.objects.get(user=world.users["other_network_head_office"]).network == world.networks["beta"]
    assert Membership.objects.get(user=world.users["branch_manager"]).network == world.networks["alpha"]
    assert Membership.objects.get(user=world.users["analyst"]).status == Membership.Status.DEACTIVATED
    assert Membership.objects.get(user=world.users["head_office"]).pk == members["head_office"].pk
    assert not Membership.objects.filter(user=world.users["nobody"]).exists()


@pytest.mark.django_db
def test_a_new_invitation_replacing_a_pending_one_says_so_in_the_trail(world):
    first, _token = _invite(world)
    second, _token = _invite(world, node="N2")
    first.refresh_from_db()
    assert first.revoked_at is not None
    event = NetworkEvent.objects.get(action=NetworkEvent.Action.INVITATION_REVOKED)
    assert event.details == {"invitation": first.public_id, "replaced_by": second.public_id}
    assert event.node == world.nodes["N1"] and event.actor == world.users["head_office"]
