"""The people pages and the public invitation / password reset pages, used as people use them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from central.people.selectors import person_events
from local_stores.models import Invitation, Membership, NetworkEvent, Role
from local_stores.selectors import role_set_of
from tests.people_helpers import link_in, with_memberships

pytestmark = pytest.mark.django_db
PASSWORD = "a-Long-enough-passphrase-42"
User = get_user_model()


def _invite_form(world, **overrides):
    data = {"email": "nina.neuve@example.test", "first_name": "Nina", "last_name": "Neuve",
            "node": world.nodes["N1"].public_id, "role": Role.BRANCH_MANAGER}
    data.update(overrides)
    return data


def test_head_office_invites_and_link_is_accepted(world, sink, django_capture_on_commit_callbacks):
    with_memberships(world)
    head_office = world.client_for("head_office")
    with django_capture_on_commit_callbacks(execute=True):
        response = head_office.post("/network/people/invite/", _invite_form(world))
    assert response.status_code == 302
    with django_capture_on_commit_callbacks(execute=True):  # the second submit of the same form
        again = head_office.post("/network/people/invite/", _invite_form(world))
    assert again.status_code == 302
    assert sink.handler.count("nina.neuve@example.test") == 1
    listing = head_office.get("/network/people/?state=invited")
    assert "nina.neuve@example.test" in listing.content.decode()
    link = link_in(sink.handler.received[0].text, "https://relais.example.test/accounts/invitation/")
    path = link.removeprefix("https://relais.example.test")
    newcomer = Client()
    form = newcomer.get(path)
    assert form.status_code == 200 and "Lille" in form.content.decode()
    mismatch = newcomer.post(path, {"first_name": "Nina", "last_name": "Neuve", "password1": PASSWORD,
                                    "password2": PASSWORD + "x"})
    assert mismatch.status_code == 400 and "data-form-errors" in mismatch.content.decode()
    accepted = newcomer.post(path, {"first_name": "Nina\r\n", "last_name": "Neuve", "password1": PASSWORD,
                                    "password2": PASSWORD})
    assert accepted.status_code == 302 and accepted["Location"] == "/"
    home = newcomer.get("/")
    assert home.status_code == 200
    nina = User.objects.get(email="nina.neuve@example.test")
    assert nina.first_name == "Nina" and Role.BRANCH_MANAGER in role_set_of(nina)
    used = Client().get(path)
    assert used.status_code == 404 and "This invitation link is no longer valid." in used.content.decode()
    assert Client().post(path, {"first_name": "X", "last_name": "Y", "password1": PASSWORD,
                                "password2": PASSWORD}).status_code == 404
    assert User.objects.filter(email="nina.neuve@example.test").count() == 1


def test_expired_and_revoked_links_answer_404(world, sink, django_capture_on_commit_callbacks):
    with_memberships(world)
    head_office = world.client_for("head_office")
    for email in ("late@example.test", "revoked@example.test"):
        with django_capture_on_commit_callbacks(execute=True):
            head_office.post("/network/people/invite/", _invite_form(world, email=email))
    late, revoked = (Invitation.objects.get(email=email) for email in ("late@example.test", "revoked@example.test"))
    Invitation.objects.filter(pk=late.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert head_office.post(f"/network/invitations/{revoked.public_id}/revoke/").status_code == 302
    for message in sink.handler.received:
        path = link_in(message.text, "https://relais.example.test/accounts/invitation/").removeprefix(
            "https://relais.example.test")
        answer = Client().get(path)
        assert answer.status_code == 404 and "no longer valid" in answer.content.decode()


def test_a_role_on_the_wrong_kind_of_node_is_refused_at_the_invitation(world):
    with_memberships(world)
    refused = world.client_for("head_office").post(
        "/network/people/invite/", _invite_form(world, node=world.nodes["NORTH"].public_id))
    assert refused.status_code == 400
    assert "The branch manager role is granted on a branch." in refused.content.decode()
    assert not Invitation.objects.exists()


def test_invite_form_offers_only_what_a_regional_manager_may_grant(world):
    with_memberships(world)
    page = world.client_for("regional_manager").get("/network/people/invite/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "Lille" in html and "Nîmes" not in html and "Brest" not in html
    assert 'value="branch_manager"' in html and 'value="head_office_marketer"' not in html
    refused = world.client_for("regional_manager").post(
        "/network/people/invite/", _invite_form(world, node=world.nodes["S1"].public_id))
    assert refused.status_code == 400 and "data-form-errors" in refused.content.decode()


def test_people_list_person_page_and_grant_revoke(world):
    members = with_memberships(world)
    head_office = world.client_for("head_office")
    listing = head_office.get("/network/people/?q=branch-manager")
    html = listing.content.decode()
    assert listing.status_code == 200 and "Lille" in html and "Branch manager" in html
    assert "Brest" not in head_office.get("/network/people/").content.decode()
    person = members["sibling_branch_manager"]
    granted = head_office.post(f"/network/people/{person.public_id}/roles/grant/",
                               {"node": world.nodes["S1"].public_id, "role": Role.APPROVER})
    assert granted.status_code == 302
    page = head_office.get(f"/network/people/{person.public_id}/").content.decode()
    assert "Nîmes" in page and "role granted" in page
    head_office.post(f"/network/people/{person.public_id}/roles/revoke/",
                     {"node": world.nodes["S1"].public_id, "role": Role.APPROVER})
    assert Role.APPROVER not in role_set_of(User.objects.get(pk=person.user_id))
    assert NetworkEvent.objects.filter(action=NetworkEvent.Action.ROLE_REVOKED,
                                       actor=world.users["head_office"]).exists()


def test_regional_manager_grant_on_head_office_role_is_403_and_outside_404(world):
    members = with_memberships(world)
    regional = world.client_for("regional_manager")
    person = members["branch_manager"]
    assert regional.post(f"/network/people/{person.public_id}/roles/grant/",
                         {"node": world.nodes["N2"].public_id, "role": Role.BRANCH_MANAGER}).status_code == 302
    outside = regional.post(f"/network/people/{person.public_id}/roles/grant/",
                            {"node": world.nodes["S1"].public_id, "role": Role.BRANCH_MANAGER})
    assert outside.status_code == 400  # S1 is not among the nodes the form offers: refused as the field's error
    assert regional.get(f"/network/people/{members['other_region_manager'].public_id}/").status_code == 404


def test_deactivate_from_the_page(world):
    members = with_memberships(world)
    victim = Client()
    victim.force_login(world.users["analyst"])
    head_office = world.client_for("head_office")
    head_office.post(f"/network/people/{members['analyst'].public_id}/deactivate/")
    assert Membership.objects.get(pk=members["analyst"].pk).status == "deactivated"
    assert victim.get("/").status_code == 302
    state = head_office.get("/network/people/?state=deactivated").content.decode()
    assert "Tester Analyst" in state
    head_office.post(f"/network/people/{members['analyst'].public_id}/reactivate/")
    assert User.objects.get(pk=world.users["analyst"].pk).is_active


def test_password_reset_end_to_end(world, sink):
    with_memberships(world)
    person = world.users["branch_manager"]
    person.email = "lille@example.test"
    person.set_password("the-Old-passphrase-17")
    person.save()
    assert 'href="/accounts/password/reset/"' in Client().get("/accounts/login/").content.decode()
    browser = Client()
    unknown = browser.post("/accounts/password/reset/", {"email": "nobody-here@example.test"})
    known = browser.post("/accounts/password/reset/", {"email": "lille@example.test"})
    assert unknown.status_code == known.status_code == 302 and unknown["Location"] == known["Location"]
    assert sink.handler.addresses() == ["lille@example.test"]
    path = link_in(sink.handler.received[0].text, "/accounts/password/reset/")
    confirm = browser.get(path, follow=True)
    assert confirm.status_code == 200
    form_url = confirm.redirect_chain[-1][0]
    done = browser.post(form_url, {"new_password1": "a-New-passphrase-99", "new_password2": "a-New-passphrase-99"})
    assert done.status_code == 302
    assert Client().login(username=person.username, password="a-New-passphrase-99")
    assert not Client().login(username=person.username, password="the-Old-passphrase-17")
    assert Client().get(path, follow=True).context["validlink"] is False  # the link works once
    event = NetworkEvent.objects.get(action=NetworkEvent.Action.PASSWORD_RESET)
    assert event.subject_user == person and event.details == {}


def test_password_reset_is_rate_limited_without_telling_who_exists(world, sink):
    """Beyond the limit per e-mail (5 a minute) the form says so and nothing more is sent — the same
    answer for a person's address and for an unknown one."""
    with_memberships(world)
    person = world.users["branch_manager"]
    person.email = "lille@example.test"
    person.save()
    browser = Client()
    for address in ("lille@example.test", "nobody-here@example.test"):
        answers = [browser.post("/accounts/password/reset/", {"email": address}).status_code for _ in range(6)]
        assert answers == [302] * 5 + [200], (address, answers)
        refused = browser.post("/accounts/password/reset/", {"email": address})
        assert "Too many requests" in refused.content.decode() and "data-form-errors" in refused.content.decode()
    assert sink.handler.addresses() == ["lille@example.test"] * 5


def test_a_person_s_history_is_read_as_the_viewer_reads_the_audit_trail(world):
    """A regional manager reads, in a person's history, the events of their region only."""
    members = with_memberships(world)
    person = world.users["branch_manager"]
    for code in ("N1", "S1"):
        NetworkEvent.objects.create(network=world.networks["alpha"], node=world.nodes[code], actor=person,
                                    subject_user=person, action=NetworkEvent.Action.SESSIONS_ENDED)
    seen = {event.node.code for event in person_events(members["branch_manager"], viewer=world.users["regional_manager"])
            if event.action == NetworkEvent.Action.SESSIONS_ENDED}
    assert seen == {"N1"}
    everything = person_events(members["branch_manager"], viewer=world.users["head_office"])
    assert {event.node.code for event in everything if event.action == NetworkEvent.Action.SESSIONS_ENDED} == {"N1", "S1"}
