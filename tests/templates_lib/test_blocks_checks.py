"""Visual editor, checks: every rule of templates_lib/blocks/checks.py, each message on its block."""

from __future__ import annotations

import copy

import pytest

from fixtures.demo_templates import load_demo_templates
from templates_lib.blocks.checks import check, check_version_source
from templates_lib.blocks.document import empty_document, normalise
from templates_lib.blocks.from_mjml import parse
from templates_lib.blocks.to_mjml import to_mjml

pytestmark = pytest.mark.django_db

FOOTER = {"type": "footer", "html": '<a href="{{ system.unsubscribe_url }}">Se désinscrire</a>'}


@pytest.fixture
def demo(world):
    return load_demo_templates(network=world.networks["alpha"], author=world.users["head_office"])


@pytest.fixture
def newsletter(demo):
    return demo["newsletter"]


def doc_with(*blocks, **settings) -> dict:
    document = empty_document()
    document["settings"].update(settings)
    document["sections"][0]["columns"][0]["blocks"] = [*blocks, FOOTER]
    return normalise(document)


def problems(version, document, **kwargs):
    return check(document, network=version.template.network, slot_definitions=version.slots, **kwargs)


def test_the_demo_newsletter_passes(newsletter):
    document = parse(newsletter.body).document
    assert problems(newsletter, document) == {}
    by_block, by_field = check_version_source(version=newsletter, output=to_mjml(document))
    assert by_block == {} and by_field == {}


def test_images_come_from_the_library_with_their_alt_text(newsletter):
    asset = parse(newsletter.body).document["sections"][0]["columns"][0]["blocks"][0]["src"]
    document = doc_with(
        {"type": "image", "src": asset, "alt": ""},
        {"type": "image", "src": "asset:ast_notours", "alt": "x"},
        {"type": "image", "src": "slot:visual", "alt": ""},
        {"type": "image", "src": "slot:headline", "alt": ""},
        {"type": "image", "src": "", "alt": "x"},
    )
    found = problems(newsletter, document)
    assert set(found) == {"s1c1b1", "s1c1b2", "s1c1b4", "s1c1b5"}
    assert "alternative text" in found["s1c1b1"][0]
    assert "asset library" in found["s1c1b2"][0]
    assert "image slot" in found["s1c1b4"][0]
    assert "choose an image" in found["s1c1b5"][0]


def test_an_outside_image_is_not_a_block():
    with pytest.raises(Exception) as caught:
        normalise({"settings": {}, "sections": [{"type": "section", "columns": [{"blocks": [
            {"id": "pic", "type": "image", "src": "https://evil.example/x.png", "alt": "x"}]}]}]})
    assert "asset library" in caught.value.message_dict["pic"][0]


@pytest.mark.parametrize(("href", "ok"), [
    ("https://www.comptoir-saveurs.fr/vins", True),
    ("https://evil.example/", False),
    ("http://127.0.0.1/admin", False),
    ("javascript:alert(1)", False),
    ("{{ slot.link }}", True),
    ("{{ slot.headline }}", False),
    ("{{ branch.website_url }}", True),
    ("{{ branch.facebook_url }}", True),
    ("{{ system.view_online_url }}", True),
    ("{{ branch.name }}", False),
    ("https://www.comptoir-saveurs.fr/?u={{ recipient.email }}", False),
    ("{% url 'x' %}", False),
])
def test_links_go_to_allowed_domains_or_one_link_field(newsletter, href, ok):
    text = [] if href.startswith("javascript:") else [{"type": "text", "html": f'<a href="{href}">lien</a>'}]
    document = doc_with(
        {"type": "button", "label": "Voir", "href": href},
        {"type": "social", "links": [{"network": "instagram", "href": href}]},
        {"type": "image", "src": "slot:visual", "href": href},
        *text,
    )
    found = problems(newsletter, document)
    if ok:
        assert found == {}
    else:
        assert {"s1c1b1", "s1c1b2", "s1c1b3"} | ({"s1c1b4"} if text else set()) == set(found)


def test_a_button_needs_a_label_and_a_link(newsletter):
    found = problems(newsletter, doc_with({"type": "button", "label": "", "href": ""}))
    assert len(found["s1c1b1"]) == 2


def test_rich_text_is_sanitised_or_refused(newsletter):
    document = doc_with({"type": "text", "html": "<div>Bonjour</div> <h2>titre</h2>"})
    assert document["sections"][0]["columns"][0]["blocks"][0]["html"] == "Bonjour titre"
    with pytest.raises(Exception) as caught:
        normalise({"settings": {}, "sections": [{"type": "section", "columns": [{"blocks": [
            {"id": "t", "type": "text", "html": "Salut <img src=x onerror=alert(1)>"}]}]}]})
    assert "not allowed" in caught.value.message_dict["t"][0]
    raw = doc_with({"type": "text", "html": "ok"})
    raw["sections"][0]["columns"][0]["blocks"][0]["html"] = "<script>alert(1)</script>"  # not normalised
    assert "not allowed" in problems(newsletter, raw)["s1c1b1"][0]


def test_merge_fields_from_the_whitelist_only(newsletter):
    document = doc_with(
        {"type": "text", "html": "Bonjour {{ recipient.password }}"},
        {"type": "heading", "text": "{{ slot.nope }}"},
        {"type": "text", "html": "{% if x %}oui{% endif %}"},
        {"type": "text", "html": "{{ slot.visual }}"},
        {"type": "text", "html": "Bonjour {{ recipient.first_name }} {{ slot.offer.amount }}"},
    )
    found = problems(newsletter, document)
    assert set(found) == {"s1c1b1", "s1c1b2", "s1c1b3", "s1c1b4"}
    assert "recipient.password" in found["s1c1b1"][0]
    assert "not declared" in found["s1c1b2"][0]
    assert "{%" in found["s1c1b3"][0]
    assert "image slot" in found["s1c1b4"][0]


def test_content_rules_apply_to_the_text(newsletter):
    found = problems(newsletter, doc_with({"type": "text", "html": "Livraison gratuite"}))
    assert "gratuite" in found["s1c1b1"][0]


def test_fonts_from_the_offered_list_or_the_brand_kit(newsletter):
    document = doc_with(font_family="Comic Sans MS")
    assert "Comic Sans MS" in problems(newsletter, document)["document"][0]
    assert problems(newsletter, document, extra_fonts=["Comic Sans MS"]) == {}


@pytest.mark.parametrize("css", [
    "@import 'x.css';", "a { background: url(https://evil.example/x.png) }", "a { width: expression(alert(1)) }",
    "a { b: javascript:x }", "a { b: u\\72l(x) }", "a { color: {{ slot.headline }} }",
])
def test_the_style_sheet_loads_and_runs_nothing(newsletter, css):
    document = doc_with()
    document["settings"]["css"] = css
    assert problems(newsletter, document).keys() == {"document"}


def test_the_footer_keeps_the_unsubscribe_link(newsletter):
    document = doc_with()
    document["sections"][0]["columns"][0]["blocks"].append(normalise({"settings": {}, "sections": [
        {"type": "section", "columns": [{"blocks": [{"type": "footer", "html": "Mentions légales"}]}]}]}
    )["sections"][0]["columns"][0]["blocks"][0] | {"id": "legal"})
    assert "unsubscribe" in problems(newsletter, document)["legal"][0]


@pytest.mark.parametrize("mjml", [
    "<mj-raw><script>alert(1)</script></mj-raw>",
    "<mj-raw><p onclick=\"x()\">a</p></mj-raw>",
    "<mj-include path=\"/etc/passwd\" />",
    "<mj-image src=\"https://evil.example/x.png\" alt=\"x\" />",
    "<mj-hero background-url=\"https://evil.example/x.png\"></mj-hero>",
    "<mj-raw><a href=\"https://evil.example/\">x</a></mj-raw>",
    "<mj-text font-family=\"x;background:url(https://evil.example/x)\">x</mj-text>",
])
def test_source_blocks_carry_nothing_dangerous(newsletter, mjml):
    document = doc_with({"type": "source", "mjml": mjml})
    assert "s1c1b1" in problems(newsletter, document)
    harmless = doc_with({"type": "source", "mjml": "<mj-raw><p>Bonjour</p></mj-raw>"})
    assert problems(newsletter, harmless) == {}


def test_structure_errors_are_keyed_by_block():
    document = empty_document()
    document["sections"] = [
        {"id": "wide", "type": "section", "columns": [{"blocks": []}] * 4},
        {"id": "empty", "type": "section", "columns": []},
        {"id": "ok", "type": "section", "background": "red", "padding": "1em", "columns": [
            {"blocks": [{"id": "b", "type": "marquee"}, {"id": "c", "type": "text", "color": "#12", "font_size": "2em"},
                        {"id": "h", "type": "heading", "level": 7, "text": "x" * 5000}]}]},
    ]
    with pytest.raises(Exception) as caught:
        normalise(document)
    errors = caught.value.message_dict
    assert set(errors) == {"wide", "empty", "ok", "b", "c", "h"}
    assert len(errors["ok"]) == 2 and len(errors["c"]) == 2 and len(errors["h"]) == 2
    many = empty_document()
    many["sections"][0]["columns"][0]["blocks"] = [{"type": "spacer"}] * 250
    with pytest.raises(Exception) as caught:
        normalise(many)
    assert "200" in caught.value.message_dict["document"][0]


def test_missing_and_duplicate_ids_are_given_by_position():
    document = normalise({"settings": {}, "sections": [{"type": "section", "columns": [{"blocks": [
        {"id": "same", "type": "spacer"}, {"id": "same", "type": "spacer"}, {"type": "spacer"},
        {"id": "<script>", "type": "spacer"}]}]}]})
    assert [b["id"] for b in document["sections"][0]["columns"][0]["blocks"]] == ["same", "s1c1b2", "s1c1b3", "s1c1b4"]


def test_version_checks_are_mapped_to_the_block(newsletter):
    document = parse(newsletter.body).document
    broken = copy.deepcopy(document)
    broken["sections"][1]["columns"][0]["blocks"][2]["html"] = "Bonjour {{ recipient.shoe_size }}"
    broken["sections"][2]["columns"][0]["blocks"][1]["html"] = "Mentions"  # no unsubscribe link anywhere
    output = to_mjml(broken)
    by_block, by_field = check_version_source(version=newsletter, output=output, subject="")
    assert "shoe_size" in by_block["s2c1b3"][0] and not by_block["s2c1b3"][0].startswith("line")
    assert any("unsubscribe" in message for message in by_block["document"])
    assert "subject" in by_field
    assert output.block_at(1) == "document"
