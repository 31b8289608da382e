"""The visual e-mail editor's page and JSON endpoints through Django's client (issue 20): scoped like
the source editor (head office template managers only; foreign and missing alike 404), a bad
document answered 400 with its errors by block and nothing written, a good one saved as the draft's
MJML, the preview writing nothing, line breaks posted as CRLF stored as LF, and a save that loses a
race answered with a message, never a 500. The browser side is in test_browser_visual_editor.py."""

from __future__ import annotations

import copy
import json

import pytest
from django.db import OperationalError

from templates_lib import services
from templates_lib.models import TemplateVersion

pytestmark = pytest.mark.django_db

FOOTER = '<p>{{ branch.name }}</p><p><a href="{{ system.unsubscribe_url }}">Se désinscrire</a></p>'
DOCUMENT = {
    "settings": {"background": "#f5efe6", "width": 600, "font_family": "Helvetica, Arial, sans-serif",
                 "text_color": "#3b2a1a", "line_height": "1.5", "css": ""},
    "sections": [
        {"id": "s1", "type": "section", "locked": False, "background": "#ffffff", "padding": "16px", "columns": [
            {"id": "s1c1", "blocks": [
                {"id": "s1c1b1", "type": "heading", "locked": True, "text": "La foire aux vins", "level": 1,
                 "color": "", "align": "left"},
                {"id": "s1c1b2", "type": "text", "locked": False, "html": "<p>Bonjour {{ recipient.first_name }},</p>",
                 "color": "", "font_size": "", "align": "left"},
            ]},
            {"id": "s1c2", "blocks": [
                {"id": "s1c2b1", "type": "text", "locked": False, "html": "{{ slot.intro }}", "color": "",
                 "font_size": "", "align": "left"},
            ]},
        ]},
        {"id": "s2", "type": "section", "locked": True, "background": "", "padding": "", "columns": [
            {"id": "s2c1", "blocks": [{"id": "s2c1b1", "type": "footer", "locked": True, "html": FOOTER}]},
        ]},
    ],
}
SLOTS = [{"name": "intro", "type": "long_text", "label": "Introduction", "max_length": 500, "required": True,
          "default": "Nos vins du moment."}]


def posted(document=None, slots=None, **extra) -> str:
    return json.dumps({"document": document or DOCUMENT, "slots": SLOTS if slots is None else slots,
                       "subject": "La foire aux vins", "preheader": "", **extra})


@pytest.fixture
def draft(world) -> TemplateVersion:
    template = services.template_create(network=world.networks["alpha"], kind="email", name="Foire",
                                        created_by=world.users["head_office"])
    return template.versions.get()


def urls(version: TemplateVersion) -> dict[str, str]:
    base = f"/templates/versions/{version.public_id}/visual/"
    return {"page": base, "preview": base + "preview/", "save": base + "save/"}


def test_head_office_opens_the_editor_with_its_labels_and_no_code(world, draft):
    response = world.client_for("head_office").get(urls(draft)["page"])
    assert response.status_code == 200
    page = response.content.decode()
    assert "visual-editor.js" in page and 'id="editor-data"' in page
    assert "//cdn" not in page and "https://cdn" not in page  # static files from the project
    data = json.loads(page.split('<script id="editor-data" type="application/json">')[1].split("</script>")[0])
    assert data["document"]["sections"], "the draft's source read as blocks"
    recipient = next(group for group in data["merge"] if group["label"] == "Recipient")
    assert {"code": "recipient.first_name", "label": "First name"} in recipient["fields"]
    assert {item["code"] for item in data["slot_types"]} == {"short_text", "long_text", "rich_text", "image", "date",
                                                              "price", "url", "choice"}
    assert data["labels"]["make_slot"] == "Make this a slot"


def test_the_editor_speaks_french(world, draft):
    client = world.client_for("head_office")
    page = client.get(urls(draft)["page"], HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    data = json.loads(page.split('<script id="editor-data" type="application/json">')[1].split("</script>")[0])
    assert data["labels"]["make_slot"] == "En faire un emplacement"
    assert "Éditeur visuel" in page or "éditeur visuel" in page


@pytest.mark.parametrize("actor", ["branch_manager", "regional_manager", "approver", "other_network_head_office",
                                   "nobody"])
def test_only_the_networks_template_managers_reach_it(world, draft, actor):
    client = world.client_for(actor)
    before = TemplateVersion.objects.get(pk=draft.pk).body
    for name, url in urls(draft).items():
        response = client.get(url) if name == "page" else client.post(url, posted(), content_type="application/json")
        assert response.status_code == 404, (actor, name)
    assert TemplateVersion.objects.get(pk=draft.pk).body == before


def test_a_missing_version_is_a_404_like_a_foreign_one(world):
    client = world.client_for("head_office")
    assert client.get("/templates/versions/tv_doesnotexist/visual/").status_code == 404
    assert client.post("/templates/versions/tv_doesnotexist/visual/save/", posted(),
                       content_type="application/json").status_code == 404


def test_a_published_version_is_not_edited_here(world, draft):
    client = world.client_for("head_office")
    assert client.post(urls(draft)["save"], posted(), content_type="application/json").status_code == 200
    services.version_publish(version=draft, published_by=world.users["head_office"])
    response = client.get(urls(draft)["page"])
    assert response.status_code == 302 and response["Location"] == f"/templates/{draft.template.public_id}/"
    published = TemplateVersion.objects.get(pk=draft.pk).body
    # a save racing the publication: refused with a message, the published version unchanged
    assert client.post(urls(draft)["save"], posted(), content_type="application/json").status_code == 404
    assert TemplateVersion.objects.get(pk=draft.pk).body == published


def test_an_sms_draft_opens_in_the_source_editor(world):
    template = services.template_create(network=world.networks["alpha"], kind="sms", name="SMS",
                                        created_by=world.users["head_office"])
    version = template.versions.get()
    response = world.client_for("head_office").get(urls(version)["page"])
    assert response.status_code == 302 and response["Location"] == f"/templates/versions/{version.public_id}/edit/"


def test_save_writes_the_mjml_and_the_slots(world, draft):
    response = world.client_for("head_office").post(urls(draft)["save"], posted(), content_type="application/json")
    assert response.status_code == 200, response.content.decode()
    assert response.json()["ok"] is True
    draft.refresh_from_db()
    assert draft.body.startswith("<mjml") and "<mj-column" in draft.body
    assert "La foire aux vins" in draft.body and "{{ slot.intro }}" in draft.body
    assert "rl-locked" in draft.body  # the locked heading and footer
    assert draft.subject == "La foire aux vins"
    assert [slot["name"] for slot in draft.slots] == ["intro"]


def test_a_bad_block_answers_400_with_its_errors_and_writes_nothing(world, draft):
    before = TemplateVersion.objects.get(pk=draft.pk).body
    document = copy.deepcopy(DOCUMENT)
    document["sections"][0]["columns"][0]["blocks"].append(
        {"id": "img1", "type": "image", "locked": False, "src": "asset:ast_missing", "alt": "", "width": "", "href": ""})
    document["sections"][0]["columns"][0]["blocks"].append(
        {"id": "btn1", "type": "button", "locked": False, "label": "Go", "href": "javascript:alert(1)",
         "background": "", "color": "", "radius": ""})
    response = world.client_for("head_office").post(urls(draft)["save"], posted(document),
                                                    content_type="application/json")
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert errors.get("img1") and errors.get("btn1"), errors
    assert "s1c1b1" not in errors  # the sound blocks carry nothing
    assert TemplateVersion.objects.get(pk=draft.pk).body == before


@pytest.mark.parametrize("body", ["not json", "[]", '{"document": "x"}', '{"document": {}, "slots": "x"}'])
def test_what_is_not_a_document_answers_400(world, draft, body):
    response = world.client_for("head_office").post(urls(draft)["save"], body, content_type="application/json")
    assert response.status_code == 400 and response.json()["ok"] is False


def test_the_preview_writes_nothing_and_answers_the_html(world, draft):
    before = TemplateVersion.objects.get(pk=draft.pk)
    response = world.client_for("head_office").post(urls(draft)["preview"], posted(), content_type="application/json")
    assert response.status_code == 200, response.content.decode()
    answer = response.json()
    assert "La foire aux vins" in answer["html"] and "Nos vins du moment." in answer["html"]
    assert answer["errors"] == {}
    after = TemplateVersion.objects.get(pk=draft.pk)
    assert (after.body, after.slots, after.subject) == (before.body, before.slots, before.subject)


def test_the_preview_names_the_block_in_error(world, draft):
    document = copy.deepcopy(DOCUMENT)
    document["sections"][0]["columns"][1]["blocks"][0]["html"] = "{{ slot.undeclared }}"
    answer = world.client_for("head_office").post(urls(draft)["preview"], posted(document),
                                                  content_type="application/json").json()
    assert answer["errors"].get("s1c2b1"), answer["errors"]


def test_crlf_in_posted_text_is_stored_as_lf(world, draft):
    document = copy.deepcopy(DOCUMENT)
    document["sections"][0]["columns"][0]["blocks"][1]["html"] = "<p>Bonjour,\r\nà bientôt\r\n</p>"
    slots = [{**SLOTS[0], "default": "Nos vins\r\ndu moment."}]
    response = world.client_for("head_office").post(urls(draft)["save"], posted(document, slots),
                                                    content_type="application/json")
    assert response.status_code == 200, response.content.decode()
    draft.refresh_from_db()
    assert "\r" not in draft.body and "à bientôt" in draft.body
    assert draft.slots[0]["default"] == "Nos vins\ndu moment."


def test_a_save_losing_a_race_on_the_database_answers_409_not_500(world, draft, monkeypatch):
    from templates_lib import editor_views

    def locked(**kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(editor_views, "save_document", locked)
    response = world.client_for("head_office").post(urls(draft)["save"], posted(), content_type="application/json")
    assert response.status_code == 409 and "save again" in response.json()["message"]


def test_the_links_to_the_editor(world, draft):
    client = world.client_for("head_office")
    detail = client.get(f"/templates/{draft.template.public_id}/").content.decode()
    assert urls(draft)["page"] in detail
    assert urls(draft)["page"] in client.get(f"/templates/versions/{draft.public_id}/edit/").content.decode()
    client.post(urls(draft)["save"], posted(), content_type="application/json")
    services.version_publish(version=draft, published_by=world.users["head_office"])
    response = client.post(f"/templates/{draft.template.public_id}/new-version/", {"editor": "visual"})
    new = draft.template.versions.get(status="draft")
    assert response.status_code == 302 and response["Location"] == urls(new)["page"]
