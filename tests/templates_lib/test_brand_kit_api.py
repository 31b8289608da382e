"""The brand kit's REST API (issue 20): head office of the network reads and changes it through
``kit_update`` (the same checks, by field; the same new drafts, published versions untouched);
anyone else, and an unknown network, get 404; the schema documents it."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from fixtures.demo_brand_kit import FOOTER
from fixtures.demo_templates import load_demo_templates
from templates_lib import brand_kit_services, services
from templates_lib.brand_kit import BrandKit
from templates_lib.brand_kit_services import kit_update
from templates_lib.models import TemplateVersion
from tests.templates_lib.test_brand_kit import KIT, _font_bytes

pytestmark = pytest.mark.django_db

URL = "/api/v1/brand-kits/{}/"


@pytest.fixture
def demo(world, media):
    return load_demo_templates(network=world.networks["alpha"], author=world.users["head_office"])


def logo_of(world):
    return world.networks["alpha"].assets.get(name="Logo Comptoir des Saveurs")


def put(world, actor, body, method="put"):
    client = world.client_for(actor)
    return getattr(client, method)(URL.format(world.networks["alpha"].slug), data=body, content_type="application/json")


def test_head_office_reads_its_kit_with_names_not_internal_ids(world, demo):
    alpha = world.networks["alpha"]
    font = brand_kit_services.font_upload(network=alpha, uploaded_file=SimpleUploadedFile("b.woff2", _font_bytes("woff2")),
                                          name="Brand Sans", uploaded_by=world.users["head_office"])
    kit_update(network=alpha, edited_by=world.users["head_office"], **KIT, logo=logo_of(world), font_file=font)
    response = world.client_for("head_office").get(URL.format(alpha.slug))
    assert response.status_code == 200
    body = response.json()
    assert body["network"] == alpha.slug and body["primary_color"] == "#6b1d2a" and body["button_radius"] == "3px"
    assert body["logo"] == {"id": logo_of(world).public_id, "name": "Logo Comptoir des Saveurs"}
    assert body["font_file"] == {"name": "Brand Sans", "stylesheet_url": font.stylesheet_url}
    assert body["font_family"] == "Brand Sans, Helvetica, Arial, sans-serif"
    assert "812 345 678" in body["footer_html"] and body["updated_at"]


def test_without_a_kit_get_answers_the_defaults(world):
    body = world.client_for("head_office").get(URL.format(world.networks["alpha"].slug)).json()
    assert body["updated_at"] is None and body["footer_html"] == "" and body["logo"] is None
    assert body["primary_color"] == BrandKit().primary_color


@pytest.mark.parametrize("actor", ["other_network_head_office", "branch_manager", "regional_manager", "approver",
                                   "analyst"])
def test_anyone_but_the_networks_head_office_gets_404_and_changes_nothing(world, actor):
    kit_update(network=world.networks["alpha"], edited_by=world.users["head_office"], **KIT)
    client = world.client_for(actor)
    url = URL.format(world.networks["alpha"].slug)
    read = client.get(url)
    assert read.status_code == 404 and "812 345 678" not in read.content.decode()
    for method in ("put", "patch"):
        response = getattr(client, method)(url, data={**KIT, "primary_color": "#000000"}, content_type="application/json")
        assert response.status_code == 404
    assert BrandKit.objects.get(network=world.networks["alpha"]).primary_color == "#6b1d2a"


def test_an_unknown_network_and_anonymous_are_refused(world):
    client = world.client_for("head_office")
    assert client.get(URL.format("no-such-network")).status_code == 404
    assert client.put(URL.format("no-such-network"), data=KIT, content_type="application/json").status_code == 404
    assert world.client_for("anonymous").get(URL.format(world.networks["alpha"].slug)).status_code in (401, 403)


def test_put_creates_the_kit_with_the_logo_by_id_and_the_footer_s_line_ends_normalised(world, demo):
    body = {**KIT, "footer_html": FOOTER.replace("\n", "\r\n") + "\r\n", "logo": {"id": logo_of(world).public_id}}
    response = put(world, "head_office", body)
    assert response.status_code == 200, response.json()
    answer = response.json()
    kit = BrandKit.objects.get(network=world.networks["alpha"])
    assert "\r" not in kit.footer_html and kit.logo == logo_of(world)
    assert answer["logo"]["name"] == "Logo Comptoir des Saveurs" and "\r" not in answer["footer_html"]
    assert answer["drafts_made"] == 0 and answer["message"] == "Brand kit saved. No template needed a new draft."
    font = brand_kit_services.font_upload(network=world.networks["alpha"], uploaded_file=SimpleUploadedFile(
        "b.ttf", _font_bytes()), name="Brand Sans", uploaded_by=world.users["head_office"])
    named = put(world, "head_office", {"font_file": {"name": "  Brand   Sans "}}, method="patch").json()
    assert named["font_file"] == {"name": "Brand Sans", "stylesheet_url": font.stylesheet_url}
    assert BrandKit.objects.get(network=world.networks["alpha"]).font_file == font


def test_every_problem_comes_back_by_field(world, demo):
    beta_head_office = world.users["other_network_head_office"]
    beta_logo = services.asset_upload(network=world.networks["beta"], uploaded_file=demo_png(), name="Beta logo",
                                      tags="", uploaded_by=beta_head_office)
    response = put(world, "head_office", {
        **KIT, "primary_color": "burgundy", "button_radius": "99px", "font_stack": "Comic Sans MS",
        "footer_html": "<p>Merci</p>", "logo": {"id": beta_logo.public_id}, "font_file": {"name": "Nowhere Sans"}})
    assert response.status_code == 400
    errors = response.json()
    assert errors["primary_color"] == ["Give a colour as # and six hexadecimal digits, e.g. #6b1d2a."]
    assert errors["button_radius"] == ["Give the corner radius in pixels, from 0 to 40, e.g. 4px."]
    assert errors["font_stack"] == ["Choose one of the fonts every mail client has."]
    assert "The footer must contain the unsubscribe link {{ system.unsubscribe_url }}." in errors["footer_html"]
    # another network's image answers like a missing one
    assert errors["logo"] == ["Choose the logo among the images of the network's library."]
    assert errors["font_file"] == ["Choose a font uploaded for this network."]
    assert not BrandKit.objects.exists()
    missing = put(world, "head_office", {"primary_color": "#123456"})
    assert missing.status_code == 400 and "footer_html" in missing.json() and "accent_color" in missing.json()


def demo_png() -> SimpleUploadedFile:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 6), "blue").save(buffer, "PNG")
    return SimpleUploadedFile("logo.png", buffer.getvalue(), content_type="image/png")


def test_a_change_makes_drafts_and_leaves_published_versions_alone(world, demo):
    alpha, author = world.networks["alpha"], world.users["head_office"]
    kit_update(network=alpha, edited_by=author, **KIT, logo=logo_of(world))
    letter = services.template_create(network=alpha, kind="email", name="Lettre API", created_by=author)
    draft = letter.versions.get()
    services.draft_update(version=draft, edited_by=author,
                          slots=[*draft.slots[:2], {**draft.slots[2], "default": "https://www.comptoir-saveurs.fr/"}])
    services.version_publish(version=draft, published_by=author)
    published = {v.pk: (v.content_hash, v.body) for v in TemplateVersion.objects.filter(status="published")}
    response = put(world, "head_office", {"primary_color": "#224466", "button_background": "#224466"}, method="patch")
    assert response.status_code == 200, response.json()
    answer = response.json()
    assert answer["drafts_made"] == 3
    assert sorted(answer["templates_with_new_draft"]) == [
        "Invitation — soirée en magasin", "Lettre API", "Lettre nationale — Foire aux vins"]
    assert answer["message"] == "Brand kit saved. 3 templates have a new draft with the new brand kit."
    assert answer["primary_color"] == "#224466" and answer["logo"]["id"] == logo_of(world).public_id  # PATCH keeps it
    for version in TemplateVersion.objects.filter(pk__in=published):
        assert (version.content_hash, version.body) == published[version.pk]
    assert "#224466" in letter.versions.get(status="draft").body
    again = put(world, "head_office", {"primary_color": "#224466"}, method="patch").json()
    assert again["drafts_made"] == 0 and again["templates_with_new_draft"] == []


def test_put_without_a_logo_removes_it(world, demo):
    alpha = world.networks["alpha"]
    kit_update(network=alpha, edited_by=world.users["head_office"], **KIT, logo=logo_of(world))
    response = put(world, "head_office", KIT)
    assert response.status_code == 200 and response.json()["logo"] is None
    assert BrandKit.objects.get(network=alpha).logo is None


def test_the_schema_documents_the_brand_kit_endpoint(world):
    paths = world.client_for("head_office").get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()[
        "paths"]
    operations = paths["/api/v1/brand-kits/{slug}/"]
    assert {"get", "put", "patch"} <= set(operations)
    assert "200" in operations["put"]["responses"] and "requestBody" in operations["put"]
