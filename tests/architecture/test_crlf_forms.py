"""Line breaks as browsers send them (issue 19, defect 1).

A browser submits a textarea's line breaks as CRLF (HTML's form submission turns every line break
of every value into CRLF); htmx and JSON clients may send CR too. The demo's "Lettre nationale"
could not be saved from the browser: the MJML parser refuses a CR inside <mj-head>. The forms
(``local_stores.line_breaks.LineBreaksFormMixin``) and the API's parsers (``config.parsers``) turn
them into LF once, at the boundary; the MJML compile step does too.

The pages are posted here the way a browser posts them: every field of the rendered form with its
value (hidden fields, the formset's rows, the selected options), line breaks as CRLF, urlencoded.
"""

from __future__ import annotations

import json
from datetime import timedelta
from html.parser import HTMLParser
from urllib.parse import urlencode

import pytest
from django.http import QueryDict

from approvals.models import Decision, ProofStatus
from approvals.services import proof_request
from central.calendar.services import participation_answer
from central.models import Campaign
from fixtures.demo_templates import NEWSLETTER, load_demo_templates
from local_stores.line_breaks import normalise_line_breaks
from templates_lib import rendering
from templates_lib.models import TemplateVersion
from tests.planning import joined_campaign, plan

pytestmark = pytest.mark.django_db

URLENCODED = "application/x-www-form-urlencoded"


# --- A browser's form submission ----------------------------------------------------------------------


class _FormFields(HTMLParser):
    """The successful controls of one form of a page (the one with ``attribute=value``), as a browser
    would submit them without a submit button: text, hidden and other inputs, checked boxes and
    radios, the selected options (or a select's first), textareas' text."""

    def __init__(self, attribute: str, value: str) -> None:
        super().__init__(convert_charrefs=True)
        self.wanted = (attribute, value)
        self.inside = 0  # depth of <form> tags once inside the wanted one
        self.fields: list[tuple[str, str]] = []
        self._textarea: tuple[str, list[str]] | None = None
        self._select: tuple[str, list[str], list[str]] | None = None  # name, selected, all values
        self._option: tuple[str | None, bool, list[str]] | None = None
        self._disabled = 0

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "form":
            if self.inside:
                self.inside += 1
            elif attributes.get(self.wanted[0]) == self.wanted[1]:
                self.inside = 1
            return
        if not self.inside:
            return
        name = attributes.get("name")
        disabled = "disabled" in attributes
        if tag == "input" and name and not disabled:
            kind = (attributes.get("type") or "text").lower()
            if kind in {"submit", "button", "image", "reset", "file"}:
                return
            if kind in {"checkbox", "radio"}:
                if "checked" in attributes:
                    self.fields.append((name, attributes.get("value") or "on"))
                return
            self.fields.append((name, attributes.get("value") or ""))
        elif tag == "textarea" and name and not disabled:
            self._textarea = (name, [])
        elif tag == "select" and name and not disabled:
            self._select = (name, [], [])
        elif tag == "option" and self._select is not None:
            self._option = (attributes.get("value"), "selected" in attributes, [])

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea[1].append(data)
        if self._option is not None:
            self._option[2].append(data)

    def handle_endtag(self, tag):
        if tag == "form" and self.inside:
            self.inside -= 1
        elif tag == "textarea" and self._textarea is not None:
            name, parts = self._textarea
            text = "".join(parts)
            self.fields.append((name, text[1:] if text.startswith("\n") else text))  # HTML drops the first LF
            self._textarea = None
        elif tag == "option" and self._option is not None and self._select is not None:
            value, selected, text = self._option
            value = "".join(text).strip() if value is None else value
            self._select[2].append(value)
            if selected:
                self._select[1].append(value)
            self._option = None
        elif tag == "select" and self._select is not None:
            name, selected, values = self._select
            for value in selected or values[:1]:
                self.fields.append((name, value))
            self._select = None


def form_fields(page: str, attribute: str, value: str) -> list[tuple[str, str]]:
    parser = _FormFields(attribute, value)
    parser.feed(page)
    assert parser.fields, f"no form with {attribute}={value!r} on the page"
    return parser.fields


def as_browser_posts(fields: list[tuple[str, str]]) -> str:
    """The urlencoded body a browser sends: every line break of every value as CRLF."""
    return urlencode([(name, normalise_line_breaks(value).replace("\n", "\r\n")) for name, value in fields])


def replaced(fields: list[tuple[str, str]], **values: str) -> list[tuple[str, str]]:
    return [(name, values.get(name, value)) for name, value in fields]


def crlf(text: str) -> str:
    return text.replace("\n", "\r\n")


def strings_of(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in strings_of(item)]
    if isinstance(value, list):
        return [text for item in value for text in strings_of(item)]
    return []


# --- The demo's templates ------------------------------------------------------------------------------


@pytest.fixture
def demo(world):
    return load_demo_templates(network=world.networks["alpha"], author=world.users["head_office"])


def new_draft(client, published: TemplateVersion) -> TemplateVersion:
    """Head office clicks "Start a new version" on the template's page."""
    response = client.post(f"/templates/{published.template.public_id}/new-version/")
    draft = published.template.versions.get(status="draft")
    assert response.status_code == 302 and response["Location"] == f"/templates/versions/{draft.public_id}/edit/"
    return draft


def test_the_normalisation_itself():
    posted = QueryDict(mutable=True)
    posted.setlist("body", ["<mjml>\r\n  <mj-head>\r\n", "a\rb"])
    posted["name"] = "Lettre"
    posted._mutable = False
    normalised = normalise_line_breaks(posted)
    assert normalised.getlist("body") == ["<mjml>\n  <mj-head>\n", "a\nb"]
    assert normalised["name"] == "Lettre"
    assert posted.getlist("body") == ["<mjml>\r\n  <mj-head>\r\n", "a\rb"]  # the request's own data untouched
    with pytest.raises(AttributeError):  # as immutable as request.POST
        normalised["name"] = "x"
    parsed = {"slot_values": {"details": "1\r\n2\r\r\n3", "offer": {"amount": "9.90", "conditions": "a\r\nb"}},
              "slots": [{"choices": ["x\r", "y"]}], "count": 3, "none": None, "flag": True}
    assert normalise_line_breaks(parsed) == {
        "slot_values": {"details": "1\n2\n\n3", "offer": {"amount": "9.90", "conditions": "a\nb"}},
        "slots": [{"choices": ["x\n", "y"]}], "count": 3, "none": None, "flag": True}


def test_mjml_compiles_a_crlf_source_as_its_lf_source():
    with pytest.raises(ValueError, match="unexpected token"):  # what MRML itself does with CRLF
        import mjml
        mjml.mjml2html(crlf(NEWSLETTER), fonts={})
    expected = rendering.mjml_to_html(NEWSLETTER)
    assert rendering.mjml_to_html(crlf(NEWSLETTER)) == expected
    assert rendering.mjml_to_html(NEWSLETTER.replace("\n", "\r")) == expected


@pytest.mark.parametrize("button", [("save", ""), ("publish", "1")], ids=["save", "publish"])
def test_the_demo_newsletter_saves_and_publishes_as_a_browser_posts_it(world, demo, button):
    """Lettre nationale: Start a new version, change nothing, Save (or Save and publish)."""
    client = world.client_for("head_office")
    published = demo["newsletter"]
    draft = new_draft(client, published)
    url = f"/templates/versions/{draft.public_id}/edit/"
    fields = form_fields(client.get(url).content.decode(), "id", "draft-form")
    body_sent = dict(fields)["body"]
    assert body_sent == published.body and "\n" in body_sent and "\r" not in body_sent
    posted = as_browser_posts([*fields, button])
    assert "%0D%0A" in posted  # the body goes as CRLF, as a browser sends it

    response = client.post(url, posted, content_type=URLENCODED)

    assert response.status_code == 302, response.content.decode()[:3000]
    draft.refresh_from_db()
    assert draft.body == published.body.strip()  # the same source, LF only (the form strips the last LF)
    assert (draft.subject, draft.preheader) == (published.subject, published.preheader)
    assert not [text for text in strings_of(draft.slots) if "\r" in text]
    assert draft.slots == published.slots  # the price's default too (shown as JSON, read back)
    if button[0] == "publish":
        assert response["Location"] == f"/templates/{published.template.public_id}/"
        assert draft.status == "published" and draft.number == published.number + 1
    else:
        assert response["Location"] == url
        assert draft.status == "draft"
        page = client.get(url).content.decode()
        assert "Draft saved and checked." in page and "MJML" not in page


def test_the_live_preview_of_the_draft_takes_crlf_too(world, demo):
    client = world.client_for("head_office")
    draft = new_draft(client, demo["newsletter"])
    url = f"/templates/versions/{draft.public_id}/edit/"
    fields = form_fields(client.get(url).content.decode(), "id", "draft-form")
    preview = client.post(f"/templates/versions/{draft.public_id}/preview/", as_browser_posts(fields),
                          content_type=URLENCODED).content.decode()
    assert "not valid" not in preview and "Découvrir la sélection" in preview


@pytest.fixture
def invitation_campaign(world, demo):
    """Lille (N1) joined an opt-in e-mail operation using the demo's invitation (slot "details":
    long text, several lines allowed)."""
    operation = plan(world, versions=[demo["invitation"]], channels=["email"])
    participation_answer(operation=operation, branch=world.nodes["N1"], status="joined",
                         answered_by=world.users["branch_manager"])
    return Campaign.objects.get(operation=operation, branch=world.nodes["N1"])


def test_the_campaign_editor_saves_a_multi_line_slot_as_a_browser_posts_it(world, invitation_campaign):
    campaign = invitation_campaign
    client = world.client_for("branch_manager")
    url = f"/network/campaigns/{campaign.public_id}/"
    fields = form_fields(client.get(url).content.decode(), "id", "campaign-form")
    send_date = campaign.operation.send_from + timedelta(days=2)
    typed = "Places limitées.\nRéservez au comptoir :\n\n03 20 00 00 00"
    posted = as_browser_posts(replaced(fields, details=typed, send_date=send_date.isoformat()))
    assert "%0D%0A%0D%0A03" in posted

    response = client.post(url, posted, content_type=URLENCODED)

    assert response.status_code == 302, response.content.decode()[:3000]
    campaign.refresh_from_db()
    assert campaign.slot_values["details"] == "Places limitées.\nRéservez au comptoir :\n\n03 20 00 00 00"
    assert campaign.slot_values["event_name"] == "Soirée dégustation"  # untouched, sent back as it was shown
    assert campaign.send_date == send_date


@pytest.fixture
def proof(world):
    campaign = joined_campaign(world)
    return proof_request(campaign=campaign, requested_by=world.users["branch_manager"])


def test_an_approvers_comment_posted_by_a_browser_is_saved_with_lf(world, proof):
    client = world.client_for("regional_manager")
    page = client.get(f"/approvals/proofs/{proof.public_id}/").content.decode()
    fields = form_fields(page, "data-testid", "decision-form")
    posted = as_browser_posts(replaced([*fields, ("verdict", "changes")],
                                       comment="Le visuel est flou.\nMerci de le changer.",
                                       slot__message="Trop long :\nune ligne suffit."))

    response = client.post(f"/approvals/proofs/{proof.public_id}/decide/", posted, content_type=URLENCODED)

    assert response.status_code == 302
    decision = Decision.objects.get(proof=proof)
    assert decision.comment == "Le visuel est flou.\nMerci de le changer."
    assert decision.slot_comments == {"message": "Trop long :\nune ligne suffit."}
    proof.refresh_from_db()
    assert proof.status == ProofStatus.CHANGES_REQUESTED


# --- The API ---------------------------------------------------------------------------------------------


def test_the_api_saves_and_publishes_the_demo_newsletter_sent_with_crlf(world, demo):
    client = world.client_for("head_office")
    published = demo["newsletter"]
    draft = new_draft(client, published)
    url = f"/api/v1/template-versions/{draft.public_id}/"
    payload = json.dumps({"body": crlf(published.body), "subject": "Foire\r\naux vins"})
    assert "\\r\\n" in payload

    response = client.patch(url, payload, content_type="application/json")

    assert response.status_code == 200, response.json()
    draft.refresh_from_db()
    assert draft.body == published.body.strip()
    assert draft.subject == "Foire\naux vins"
    assert client.post(url + "publish/").status_code == 200
    draft.refresh_from_db()
    assert draft.status == "published"


def test_the_api_campaign_patch_takes_crlf_in_a_slot_value(world, invitation_campaign):
    campaign = invitation_campaign
    response = world.client_for("branch_manager").patch(
        f"/api/v1/campaigns/{campaign.public_id}/",
        json.dumps({"slot_values": {"details": "Ligne 1\r\nLigne 2\rLigne 3"}}), content_type="application/json")
    assert response.status_code == 200, response.json()
    campaign.refresh_from_db()
    assert campaign.slot_values["details"] == "Ligne 1\nLigne 2\nLigne 3"


def test_the_api_decision_takes_crlf_in_json_and_in_a_form_body(world, proof):
    client = world.client_for("regional_manager")
    url = f"/api/v1/proofs/{proof.public_id}/decisions/"
    response = client.post(url, json.dumps({"verdict": "approve", "comment": "Vu.\r\nParfait pour moi."}),
                           content_type="application/json")
    assert response.status_code == 201, response.json()
    assert response.json()["comment"] == "Vu.\nParfait pour moi."
    assert Decision.objects.get(proof=proof).comment == "Vu.\nParfait pour moi."
    # the second step, posted as an HTML form would be (FormParser)
    response = world.client_for("approver").post(
        url, urlencode({"verdict": "approve", "comment": "Validé\r\npour envoi."}), content_type=URLENCODED)
    assert response.status_code == 201, response.json()
    assert Decision.objects.get(proof=proof, step=1).comment == "Validé\npour envoi."


def test_a_branch_profile_posted_by_a_browser_keeps_lf_only(world):
    """The branch's own details (opening hours, signature: several lines, merged into messages),
    posted as multipart/form-data as the page's form (which takes a logo) is."""
    client = world.client_for("branch_manager")
    node = world.nodes["N1"]
    url = f"/network/branches/{node.public_id}/edit/"
    fields = form_fields(client.get(url).content.decode(), "enctype", "multipart/form-data")
    fields = replaced(fields, opening_hours="Lun-Ven 9h-19h\nSam 9h-13h", manager_signature="Anne Nord\nVotre caviste")
    posted: dict[str, list[str]] = {}
    for name, value in fields:
        posted.setdefault(name, []).append(crlf(value))
    assert posted["opening_hours"] == ["Lun-Ven 9h-19h\r\nSam 9h-13h"]

    response = client.post(url, posted)  # the test client's multipart/form-data

    assert response.status_code == 302, response.content.decode()[:3000]
    node.refresh_from_db()
    assert (node.opening_hours, node.manager_signature) == ("Lun-Ven 9h-19h\nSam 9h-13h", "Anne Nord\nVotre caviste")
