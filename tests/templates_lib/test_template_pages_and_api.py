"""The template library through its pages and its API: scoped like everything else."""

import base64
import io

import pytest
from PIL import Image
from pypdf import PdfReader

from templates_lib import services
from templates_lib.models import Template, TemplateVersion

pytestmark = pytest.mark.django_db


@pytest.fixture
def published_sms(world):
    template = services.template_create(network=world.networks["alpha"], kind="sms", name="Promo SMS",
                                        created_by=world.users["head_office"])
    draft = template.versions.get()
    return services.version_publish(version=draft, published_by=world.users["head_office"])


@pytest.fixture
def draft_email(world):
    template = services.template_create(network=world.networks["alpha"], kind="email", name="Newsletter",
                                        created_by=world.users["head_office"])
    return template.versions.get()


def png(name="logo.png", size=(40, 20)):
    buffer = io.BytesIO()
    Image.new("RGB", size, "red").save(buffer, "PNG")
    buffer.seek(0)
    buffer.name = name
    return buffer


@pytest.mark.parametrize(
    ("actor", "sees_draft", "sees_published"),
    [("head_office", True, True), ("branch_manager", False, True), ("regional_manager", False, True),
     ("analyst", False, True), ("other_network_head_office", False, False), ("nobody", False, False)],
)
def test_template_list_is_scoped(world, published_sms, draft_email, actor, sees_draft, sees_published):
    client = world.client_for(actor)
    page = client.get("/templates/").content.decode()
    api = client.get("/api/v1/templates/").json()
    names = {item["name"] for item in api["results"]}
    assert ("Newsletter" in page) is sees_draft and ("Newsletter" in names) is sees_draft
    assert ("Promo SMS" in page) is sees_published and ("Promo SMS" in names) is sees_published
    detail = client.get(f"/templates/{draft_email.template.public_id}/")
    assert detail.status_code == (200 if sees_draft else 404)
    api_detail = client.get(f"/api/v1/templates/{published_sms.template.public_id}/")
    assert api_detail.status_code == (200 if sees_published else 404)
    if sees_published and not sees_draft:  # a branch sees published versions only
        assert {v["status"] for v in api_detail.json()["versions"]} == {"published"}


@pytest.mark.parametrize("actor", ["branch_manager", "regional_manager", "approver", "other_network_head_office"])
def test_only_the_head_office_edits_and_publishes(world, draft_email, actor):
    client = world.client_for(actor)
    assert client.get(f"/templates/versions/{draft_email.public_id}/edit/").status_code == 404
    assert client.post(f"/templates/versions/{draft_email.public_id}/publish/").status_code == 404
    assert client.patch(f"/api/v1/template-versions/{draft_email.public_id}/", {"body": "x"},
                        content_type="application/json").status_code == 404
    assert client.post(f"/api/v1/template-versions/{draft_email.public_id}/publish/").status_code == 404
    created = client.post("/api/v1/templates/create/", {"network": "alpha", "kind": "sms", "name": "Mine"})
    assert created.status_code == 400
    assert not Template.objects.filter(name="Mine").exists()
    draft_email.refresh_from_db()
    assert draft_email.status == "draft"


def test_draft_edit_page_reports_errors_with_line_numbers(world, draft_email):
    client = world.client_for("head_office")
    data = {
        "subject": "Hello", "preheader": "", "body": "<mjml><mj-body>\n<mj-text>{{ recipient.shoe_size }}</mj-text>\n</mj-body></mjml>",
        "slots-TOTAL_FORMS": "0", "slots-INITIAL_FORMS": "0", "slots-MIN_NUM_FORMS": "0", "slots-MAX_NUM_FORMS": "30",
    }
    response = client.post(f"/templates/versions/{draft_email.public_id}/edit/", data)
    body = response.content.decode()
    assert response.status_code == 200
    assert "line 2" in body and "recipient.shoe_size" in body
    preview = client.post(f"/templates/versions/{draft_email.public_id}/preview/", data).content.decode()
    assert "line 2" in preview


def test_api_draft_update_publish_and_preview(world, draft_email):
    client = world.client_for("head_office")
    url = f"/api/v1/template-versions/{draft_email.public_id}/"
    bad = client.patch(url, {"body": "<mjml><mj-body><mj-include path='/etc/passwd'/></mj-body></mjml>"},
                       content_type="application/json")
    assert bad.status_code == 400
    assert "mj-include" in str(bad.json()["body"])
    assert client.post(url + "publish/").status_code == 200
    again = client.patch(url, {"subject": "changed"}, content_type="application/json")
    assert again.status_code == 400
    preview = client.post(url + "preview/", {"slot_values": {"headline": "<script>alert(1)</script>"}},
                          content_type="application/json")
    assert preview.status_code == 200
    assert "<script>alert(1)" not in preview.json()["html"]
    assert "&lt;script&gt;" in preview.json()["html"]


def test_api_preview_refuses_bad_slot_values_with_field_errors(world, published_sms):
    client = world.client_for("branch_manager")
    response = client.post(f"/api/v1/template-versions/{published_sms.public_id}/preview/",
                           {"slot_values": {"headline": "x" * 500, "unknown": "y"}}, content_type="application/json")
    assert response.status_code == 400
    assert set(response.json()) == {"headline", "unknown"}


def test_branch_tries_a_published_template_and_sees_its_own_details(world, published_sms):
    client = world.client_for("branch_manager")
    response = client.post(f"/templates/{published_sms.template.public_id}/try/", {"headline": "Soldes"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert "Lille : Soldes STOP au 36173" in body
    assert "1 SMS" in body


def test_print_preview_pdf_is_served_only_to_who_rendered_it(world):
    template = services.template_create(network=world.networks["alpha"], kind="print", name="Flyer",
                                        created_by=world.users["head_office"])
    version = services.version_publish(version=template.versions.get(), published_by=world.users["head_office"])
    client = world.client_for("branch_manager")
    page = client.post(f"/templates/{template.public_id}/try/", {"headline": "Grand déstockage"}, HTTP_HX_REQUEST="true")
    token = page.content.decode().split("/templates/preview/")[1].split(".pdf")[0]
    pdf = client.get(f"/templates/preview/{token}.pdf")
    assert pdf["Content-Type"] == "application/pdf"
    assert "Grand déstockage" in PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
    assert world.client_for("sibling_branch_manager").get(f"/templates/preview/{token}.pdf").status_code == 404
    api = world.client_for("branch_manager").post(
        f"/api/v1/template-versions/{version.public_id}/preview/", {"slot_values": {"headline": "Promo"}},
        content_type="application/json")
    assert "Promo" in PdfReader(io.BytesIO(base64.b64decode(api.json()["pdf_base64"]))).pages[0].extract_text()


def test_assets_upload_and_scoping(world, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    head_office = world.client_for("head_office")
    created = head_office.post("/api/v1/assets/upload/", {"network": "alpha", "file": png(), "name": "Logo", "tags": "Marque, Noël"})
    assert created.status_code == 201, created.json()
    assert created.json()["tags"] == ["marque", "noel"]
    svg = io.BytesIO(b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>")
    svg.name = "evil.svg"
    refused = head_office.post("/api/v1/assets/upload/", {"network": "alpha", "file": svg})
    assert refused.status_code == 400 and "file" in refused.json()
    assert [a["name"] for a in world.client_for("branch_manager").get("/api/v1/assets/").json()["results"]] == ["Logo"]
    assert world.client_for("other_network_head_office").get("/api/v1/assets/").json()["results"] == []
    assert world.client_for("branch_manager").post("/api/v1/assets/upload/", {"network": "alpha", "file": png()}).status_code == 400
    page = head_office.get("/templates/assets/").content.decode()
    assert "Logo" in page


def test_content_rules_page_validates_patterns_and_domains(world):
    client = world.client_for("head_office")
    response = client.post("/templates/rules/", {"forbidden_patterns": "gratuit\n(unclosed", "allowed_link_domains": "exemple.fr\nnot a domain",
                                                  "sms_stop_mention": "STOP au 36173"})
    body = response.content.decode()
    assert "Line 2 is not a valid regular expression" in body
    assert "Line 2 is not a domain name" in body
    assert client.post("/templates/rules/", {"forbidden_patterns": "gratuit", "allowed_link_domains": "exemple.fr",
                                             "sms_stop_mention": "STOP au 36173"}).status_code == 302
    assert world.client_for("branch_manager").get("/templates/rules/").status_code == 404


def test_creating_a_template_from_the_page(world):
    client = world.client_for("head_office")
    response = client.post("/templates/new/", {"network": world.networks["alpha"].pk, "kind": "print", "name": "Affiche"})
    assert response.status_code == 302
    version = TemplateVersion.objects.get(template__name="Affiche")
    assert response["Location"] == f"/templates/versions/{version.public_id}/edit/"
    assert client.get(response["Location"]).status_code == 200



def test_api_check_and_archive(world, draft_email, published_sms):
    client = world.client_for("head_office")
    assert client.post(f"/api/v1/template-versions/{draft_email.public_id}/check/").json() == {}
    draft_email.subject = "Hi {{ recipient.age }}"
    TemplateVersion.objects.filter(pk=draft_email.pk).update(subject=draft_email.subject)
    problems = client.post(f"/api/v1/template-versions/{draft_email.public_id}/check/").json()
    assert "recipient.age" in problems["subject"][0] and "line 1" in problems["subject"][0]
    assert world.client_for("branch_manager").post(f"/api/v1/template-versions/{draft_email.public_id}/check/").status_code == 404
    template_id = published_sms.template.public_id
    assert world.client_for("branch_manager").post(f"/api/v1/templates/{template_id}/archive/", {"archived": True}).status_code == 404
    assert client.post(f"/api/v1/templates/{template_id}/archive/", {"archived": True}).json()["is_archived"] is True
    assert world.client_for("branch_manager").get(f"/api/v1/templates/{template_id}/").status_code == 404


def test_untouched_empty_slot_row_does_not_block_the_preview(world, draft_email):
    client = world.client_for("head_office")
    data = {
        "subject": "{{ slot.headline }}", "preheader": "", "body": draft_email.body,
        "slots-TOTAL_FORMS": "2", "slots-INITIAL_FORMS": "1", "slots-MIN_NUM_FORMS": "0", "slots-MAX_NUM_FORMS": "30",
        "slots-0-name": "headline", "slots-0-type": "short_text", "slots-0-label": "Titre", "slots-0-required": "on",
        "slots-0-max_length": "80", "slots-0-default": "Bonjour",
        "slots-1-type": "short_text", "slots-1-required": "on",  # the extra row as the browser sends it
    }
    body = client.post(f"/templates/versions/{draft_email.public_id}/preview/", data).content.decode()
    assert "srcdoc" in body, body[:500]
