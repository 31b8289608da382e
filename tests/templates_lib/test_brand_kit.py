"""The brand kit (issue 20): its checks, who may change it, new e-mail templates starting from it,
a change making new drafts (never touching a published version), and uploaded fonts."""

from __future__ import annotations

import io

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from fixtures.demo_brand_kit import FOOTER
from fixtures.demo_templates import load_demo_templates
from templates_lib import brand_kit_services, services
from templates_lib.brand_kit import BrandKit
from templates_lib.brand_kit_documents import apply_kit, kit_values, starter_document
from templates_lib.brand_kit_services import kit_update
from templates_lib.models import TemplateVersion

pytestmark = pytest.mark.django_db

KIT = {"primary_color": "#6b1d2a", "accent_color": "#8a1c1c", "background_color": "#f5efe6",
       "text_color": "#3b2a1a", "font_stack": "Helvetica, Arial, sans-serif", "button_background": "#6b1d2a",
       "button_color": "#ffffff", "button_radius": "3px", "footer_html": FOOTER}


def _font_bytes(flavor: str | None = None) -> bytes:
    from fontTools.fontBuilder import FontBuilder
    from fontTools.pens.ttGlyphPen import TTGlyphPen

    builder = FontBuilder(1000, isTTF=True)
    builder.setupGlyphOrder([".notdef", "A"])
    builder.setupCharacterMap({65: "A"})
    pen = TTGlyphPen(None)
    pen.moveTo((0, 0)), pen.lineTo((500, 700)), pen.lineTo((1000, 0)), pen.closePath()
    glyph = pen.glyph()
    builder.setupGlyf({".notdef": glyph, "A": glyph})
    builder.setupHorizontalMetrics({".notdef": (1000, 0), "A": (1000, 0)})
    builder.setupHorizontalHeader(ascent=800, descent=-200)
    builder.setupNameTable({"familyName": "Brand Sans", "styleName": "Regular"})
    builder.setupOS2()
    builder.setupPost()
    buffer = io.BytesIO()
    builder.font.flavor = flavor
    builder.save(buffer)
    return buffer.getvalue()


@pytest.fixture
def demo(world, media):
    return load_demo_templates(network=world.networks["alpha"], author=world.users["head_office"])


def logo_of(demo):
    return demo["newsletter"].template.network.assets.get(name="Logo Comptoir des Saveurs")


def test_each_field_says_what_is_wrong(world):
    alpha = world.networks["alpha"]
    with pytest.raises(ValidationError) as caught:
        kit_update(network=alpha, edited_by=world.users["head_office"], **{
            **KIT, "primary_color": "burgundy", "button_radius": "99px", "font_stack": "Comic Sans MS",
            "footer_html": "<p>Merci</p><script>alert(1)</script>"})
    errors = caught.value.message_dict
    assert errors["primary_color"] == ["Give a colour as # and six hexadecimal digits, e.g. #6b1d2a."]
    assert errors["button_radius"] == ["Give the corner radius in pixels, from 0 to 40, e.g. 4px."]
    assert errors["font_stack"] == ["Choose one of the fonts every mail client has."]
    assert "The footer must contain the unsubscribe link {{ system.unsubscribe_url }}." in errors["footer_html"]
    assert ("The footer must carry the legal mentions (company name, address, registration)."
            in errors["footer_html"])
    assert not BrandKit.objects.exists()


def test_footer_is_sanitised_and_colours_lowered(world):
    result = kit_update(network=world.networks["alpha"], edited_by=world.users["head_office"], **{
        **KIT, "primary_color": "#6B1D2A", "footer_html": FOOTER + '<script>x()</script><a href="javascript:x" onclick="y">z</a>'})
    kit = result.kit
    assert kit.primary_color == "#6b1d2a" and result.created
    assert "<script" not in kit.footer_html and "onclick" not in kit.footer_html
    assert "javascript:" not in kit.footer_html and "{{ system.unsubscribe_url }}" in kit.footer_html


def test_only_the_networks_head_office_changes_its_kit(world, demo):
    alpha = world.networks["alpha"]
    for actor in ("other_network_head_office", "branch_manager", "regional_manager"):
        with pytest.raises(PermissionDenied):
            kit_update(network=alpha, edited_by=world.users[actor], **KIT)
    beta_logo_refused = demo["newsletter"].template.network.assets.first()
    with pytest.raises(ValidationError) as caught:
        kit_update(network=world.networks["beta"], edited_by=world.users["other_network_head_office"],
                   **KIT, logo=beta_logo_refused)
    assert caught.value.message_dict["logo"] == ["Choose the logo among the images of the network's library."]


def test_the_page_is_head_offices_only(world):
    assert world.client_for("branch_manager").get("/templates/brand-kit/").status_code == 404
    assert world.client_for("regional_manager").get("/templates/brand-kit/").status_code == 404
    page = world.client_for("head_office").get("/templates/brand-kit/")
    assert page.status_code == 200
    assert "No brand kit yet: new templates start from the plain starter." in page.content.decode()


def test_the_other_networks_head_office_sees_its_own_kit_only(world):
    kit_update(network=world.networks["alpha"], edited_by=world.users["head_office"], **KIT)
    page = world.client_for("other_network_head_office").get("/templates/brand-kit/").content.decode()
    assert "No brand kit yet" in page and "812 345 678" not in page


def test_footer_posted_with_crlf_as_a_browser_posts_it(world, demo):
    client = world.client_for("head_office")
    posted = {**KIT, "footer_html": FOOTER.replace("\n", "\r\n") + "\r\n", "font_file": "", "logo": logo_of(demo).pk}
    response = client.post("/templates/brand-kit/", posted)
    assert response.status_code == 302, response.content.decode()[:3000]
    kit = BrandKit.objects.get(network=world.networks["alpha"])
    assert "\r" not in kit.footer_html and kit.logo == logo_of(demo)
    page = client.get("/templates/brand-kit/").content.decode()
    assert "Brand kit saved. No template needed a new draft." in page


def test_the_page_shows_errors_at_the_top_and_beside_the_field(world):
    client = world.client_for("head_office")
    response = client.post("/templates/brand-kit/", {**KIT, "footer_html": "<p>Merci de votre visite</p>"})
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count("The footer must contain the unsubscribe link") == 2  # summary and beside the field


def test_an_uploaded_font_is_read_before_it_is_kept(world, media):
    alpha, author = world.networks["alpha"], world.users["head_office"]
    png = io.BytesIO()
    Image.new("RGB", (4, 4)).save(png, "PNG")
    with pytest.raises(ValidationError) as caught:
        brand_kit_services.font_upload(network=alpha, uploaded_file=SimpleUploadedFile("brand.ttf", png.getvalue()),
                                       name="Brand Sans", uploaded_by=author)
    assert caught.value.message_dict["font_upload"] == [
        "This file is not a font Relais can read: use a WOFF2, WOFF or TrueType (.ttf) font."]
    truncated = _font_bytes()[:60]
    with pytest.raises(ValidationError):
        brand_kit_services.font_upload(network=alpha, uploaded_file=SimpleUploadedFile("b.ttf", truncated),
                                       name="Brand Sans", uploaded_by=author)
    font = brand_kit_services.font_upload(network=alpha, uploaded_file=SimpleUploadedFile("b.woff2", _font_bytes("woff2")),
                                          name="Brand Sans", uploaded_by=author)
    assert font.format == "woff2" and font.file.name.startswith("assets/fonts/")
    css = font.stylesheet.read().decode()
    assert "font-family: 'Brand Sans'" in css and font.file.name.rsplit("/", 1)[-1] in css
    assert font.stylesheet_url.startswith("http") and "/assets/fonts/" in font.stylesheet_url
    kit = kit_update(network=alpha, edited_by=author, **KIT, font_file=font).kit
    assert kit.font_family == "Brand Sans, Helvetica, Arial, sans-serif"
    document = starter_document(kit)
    assert document["settings"]["fonts"] == [{"name": "Brand Sans", "href": font.stylesheet_url}]
    with pytest.raises(PermissionDenied):
        brand_kit_services.font_upload(network=alpha, uploaded_file=SimpleUploadedFile("b.ttf", _font_bytes()),
                                       name="Brand Sans", uploaded_by=world.users["other_network_head_office"])


def test_apply_kit_changes_what_came_from_the_kit_and_keeps_the_authors_changes(world, demo):
    alpha, author = world.networks["alpha"], world.users["head_office"]
    kit = kit_update(network=alpha, edited_by=author, **KIT, logo=logo_of(demo)).kit
    document = starter_document(kit)
    blocks = {block["type"]: block for section in document["sections"] for column in section["columns"]
              for block in column["blocks"]}
    authored = {**blocks["button"], "id": "s2c1b9", "background": "#123456"}  # a button the author restyled
    document["sections"][1]["columns"][0]["blocks"].append(authored)
    document["settings"]["text_color"] = "#000000"  # the author's own text colour
    previous = kit_values(kit)
    kit = kit_update(network=alpha, edited_by=author, primary_color="#224466", background_color="#ffffff",
                     button_background="#224466", footer_html=FOOTER.replace("812 345 678", "999 888 777")).kit
    changed = apply_kit(document, kit, previous)
    new_blocks = [block for section in changed["sections"] for column in section["columns"] for block in column["blocks"]]
    buttons = [block for block in new_blocks if block["type"] == "button"]
    assert buttons[0]["background"] == "#224466" and buttons[1]["background"] == "#123456"
    assert changed["settings"]["background"] == "#ffffff" and changed["settings"]["text_color"] == "#000000"
    assert changed["sections"][0]["background"] == "#224466"  # the logo band in the primary colour
    assert [b["html"] for b in new_blocks if b["type"] == "footer"] == [kit.footer_html]
    assert document["settings"]["background"] == "#f5efe6"  # the given document is left as it was
    assert apply_kit(document, kit, None) == document


def test_a_new_email_template_starts_from_the_kit(world, demo):
    from templates_lib.blocks.from_mjml import parse

    alpha, author = world.networks["alpha"], world.users["head_office"]
    plain = services.template_create(network=alpha, kind="email", name="Sans kit", created_by=author)
    assert plain.versions.get().body == services.STARTER_BODIES["email"]
    kit_update(network=alpha, edited_by=author, **KIT, logo=logo_of(demo))
    template = services.template_create(network=alpha, kind="email", name="Avec kit", created_by=author)
    draft = template.versions.get()
    assert "#6b1d2a" in draft.body and "#f5efe6" in draft.body and "812 345 678" in draft.body
    assert "{{ system.unsubscribe_url }}" in draft.body and logo_of(demo).public_id in draft.body
    assert [slot["name"] for slot in draft.slots] == ["headline", "intro", "link"]
    assert services.version_check(draft) == {}
    assert parse(draft.body).problems == []
    sms = services.template_create(network=alpha, kind="sms", name="SMS", created_by=author)
    assert sms.versions.get().body == services.STARTER_BODIES["sms"]


def test_a_kit_change_makes_drafts_and_never_touches_a_published_version(world, demo):
    alpha, author = world.networks["alpha"], world.users["head_office"]
    kit_update(network=alpha, edited_by=author, **KIT, logo=logo_of(demo))
    built = [services.template_create(network=alpha, kind="email", name=f"Lettre {n}", created_by=author)
             for n in range(3)]
    for template in built[:2]:
        draft = template.versions.get()
        services.draft_update(version=draft, edited_by=author,
                              slots=[*draft.slots[:2], {**draft.slots[2], "default": "https://www.comptoir-saveurs.fr/"}])
        services.version_publish(version=draft, published_by=author)
    published = {v.pk: (v.content_hash, v.body) for v in TemplateVersion.objects.filter(status="published")}
    result = kit_update(network=alpha, edited_by=author, primary_color="#224466", button_background="#224466")
    # the three built on the kit, and the demo's two e-mails whose colours are the kit's
    assert sorted(t.name for t in result.drafts) == [
        "Invitation — soirée en magasin", "Lettre 0", "Lettre 1", "Lettre 2", "Lettre nationale — Foire aux vins"]
    assert result.message == "Brand kit saved. 5 templates have a new draft with the new brand kit."
    for version in TemplateVersion.objects.filter(pk__in=published):
        assert (version.content_hash, version.body) == published[version.pk]
        assert version.compute_hash() == version.content_hash
    for template in built:
        draft = template.versions.get(status="draft")
        assert "#224466" in draft.body and "#6b1d2a" not in draft.body
    newsletter = demo["newsletter"].template.versions.get(status="draft").body
    assert 'background-color="#224466"' in newsletter  # its band in the primary colour
    assert "#8a1c1c" in newsletter and "Découvrir la sélection" in newsletter  # the rest as it was
    again = kit_update(network=alpha, edited_by=author, primary_color="#224466")
    assert again.drafts == [] and again.message == "Brand kit saved. No template needed a new draft."
