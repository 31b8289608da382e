"""Visual editor, round trip: a block document → MJML → the same document, for every document
(hypothesis); the demo e-mails read as blocks only; what the parser cannot hold is kept as a
source block and named with its line."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixtures.demo_templates import INVITATION, NEWSLETTER, load_demo_templates
from templates_lib import rendering
from templates_lib.blocks.document import FONT_STACKS, SOCIAL_NETWORKS, empty_document, normalise, renumber
from templates_lib.blocks.from_mjml import parse
from templates_lib.blocks.to_mjml import to_mjml

colours = st.sampled_from(["", "#abc", "#6b1d2a", "#FFFFFF"]) | st.from_regex(r"#[0-9a-f]{6}", fullmatch=True)
px = st.just("") | st.integers(0, 999).map(lambda n: f"{n}px")
plain = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=40)
fragments = st.one_of(
    plain,
    st.sampled_from([
        "Bonjour {{ recipient.first_name }},", "{{ slot.intro }}", "l'équipe — « 9,90 € » & <3", "a\nb",
        '<a href="https://www.comptoir-saveurs.fr/?a=1&b=2">lien</a>', '<a href="{{ system.unsubscribe_url }}">x</a>',
        '<span class="offer">{{ slot.offer }}</span>', "<b>gras</b> <i>it</i> <em>e</em> <strong>s</strong>",
        "<p>para</p>", "<ul><li>un</li><li>deux</li></ul>", "<br>", "<br/>", "<div>div</div>", "</mj-text>",
    ]),
)
rich = st.lists(fragments, max_size=5).map("".join)
href = st.sampled_from(["", "https://www.comptoir-saveurs.fr/a?b=1&c=2", "{{ slot.link }}", '"><x>']) | plain
sources = st.sampled_from([
    "<mj-hero>\n  <mj-text>x</mj-text>\n</mj-hero>", "<mj-raw><p>hi</p></mj-raw>", "<mj-carousel></mj-carousel>",
    "<!-- a note -->", "<mj-table>\n<tr><td>1</td></tr>\n</mj-table>",
])


def _block(kind: str):
    common = {"type": st.just(kind), "locked": st.booleans()}
    fields = {
        "heading": {"text": rich, "level": st.integers(1, 3), "color": colours,
                    "align": st.sampled_from(["left", "center", "right"])},
        "text": {"html": rich, "color": colours, "font_size": px,
                 "align": st.sampled_from(["left", "center", "right", "justify"])},
        "image": {"src": st.sampled_from(["", "asset:ast_abc", "slot:visual"]), "alt": plain, "width": px,
                  "href": href},
        "button": {"label": plain, "href": href, "background": colours, "color": colours,
                   "radius": px | st.sampled_from(["50%", "0"])},
        "divider": {"color": colours, "thickness": px},
        "spacer": {"height": px},
        "social": {"links": st.lists(st.fixed_dictionaries(
            {"network": st.sampled_from(sorted(SOCIAL_NETWORKS)), "href": href}), max_size=4)},
        "footer": {"html": rich},
        "source": {"mjml": sources},
    }[kind]
    return st.fixed_dictionaries({**common, **fields})


blocks = st.sampled_from(
    ["heading", "text", "image", "button", "divider", "spacer", "social", "footer", "source"]
).flatmap(_block)
sections = st.one_of(
    st.fixed_dictionaries({
        "type": st.just("section"), "locked": st.booleans(), "background": colours,
        "padding": st.sampled_from(["", "16px", "0 10px", "10px 5% 0 2px"]),
        "columns": st.lists(st.fixed_dictionaries({"blocks": st.lists(blocks, max_size=4)}), min_size=1, max_size=3),
    }),
    st.fixed_dictionaries({"type": st.just("source"), "mjml": sources}),
)


def _own_stylesheet(path: str, absolute: bool) -> str:
    from django.conf import settings as django_settings

    return (django_settings.RELAIS_BASE_URL.rstrip("/") if absolute else "") + django_settings.MEDIA_URL + path


font_lists = st.lists(st.fixed_dictionaries({
    "name": st.sampled_from(["Brand Sans", "Titres-2", "B"]),
    "href": st.builds(_own_stylesheet, st.from_regex(r"assets/fonts/20[0-9]{2}/(0[1-9]|1[0-2])/fnt_[a-z0-9]{4}\.css",
                                                     fullmatch=True), st.booleans()),
}), max_size=3, unique_by=lambda font: font["name"])
documents = st.fixed_dictionaries({
    "settings": st.fixed_dictionaries({
        "background": colours, "width": st.integers(320, 800), "font_family": st.sampled_from(["", *FONT_STACKS]),
        "text_color": colours, "line_height": st.sampled_from(["", "1.5", "20px", "120%"]),
        "css": st.sampled_from(["", ".offer { color: #8a1c1c; }"]) | plain.filter(lambda s: "<" not in s),
    }, optional={"fonts": font_lists}),
    "sections": st.lists(sections, max_size=4),
})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_every_document_comes_back_from_its_mjml(raw):
    document = normalise(raw)
    assert normalise(document) == document  # normalising is stable
    output = to_mjml(document)
    assert to_mjml(document).source == output.source  # deterministic
    parsed = parse(output.source)
    assert parsed.document == document
    holds_source = any(
        block["type"] == "source" for section in document["sections"]
        for block in ([section] if section["type"] == "source" else
                      [b for column in section["columns"] for b in column["blocks"]])
    )
    assert bool(parsed.problems) == holds_source
    for first, last in output.lines.values():  # every block's lines are its own
        assert 1 <= first <= last <= output.source.count("\n")


def test_ids_the_browser_gave_become_positional():
    document = normalise({"settings": {}, "sections": [{"id": "intro", "type": "section", "columns": [
        {"id": "left", "blocks": [{"id": "hello", "type": "text", "html": "Bonjour"}]}]}]})
    assert document["sections"][0]["columns"][0]["blocks"][0]["id"] == "hello"
    assert parse(to_mjml(document).source).document == renumber(document)
    assert renumber(document)["sections"][0]["columns"][0]["blocks"][0]["id"] == "s1c1b1"


def test_the_document_renders_as_mjml():
    document = normalise({"settings": empty_document()["settings"], "sections": [{"type": "section", "columns": [
        {"blocks": [{"type": "heading", "text": "Titre", "level": 2},
                    {"type": "social", "links": [{"network": "facebook", "href": "https://facebook.com/x"}]},
                    {"type": "footer", "html": '<a href="{{ system.unsubscribe_url }}">Se désinscrire</a>'}]},
        {"blocks": [{"type": "button", "label": "Voir", "href": "https://a.fr"}]}]}]})
    html = rendering.mjml_to_html(to_mjml(document).source)
    assert "Titre" in html and "rl-heading" in html and "rl-footer" in html
    assert "mailjet.com" not in html and "facebook.com/sharer" not in html  # no outside icon, no share link


DEMOS = {"newsletter": NEWSLETTER, "invitation": INVITATION}


@pytest.mark.parametrize("name", DEMOS)
def test_demo_templates_read_as_blocks_only(name):
    source = DEMOS[name].replace("asset.LOGO", "asset.ast_logo")
    parsed = parse(source)
    assert parsed.problems == []
    kinds = [b["type"] for s in parsed.document["sections"] for c in s["columns"] for b in c["blocks"]]
    assert "source" not in kinds and {"image", "heading", "text", "footer"} <= set(kinds)
    again = parse(to_mjml(parsed.document).source)
    assert again.document == parsed.document and again.problems == []


def test_demo_newsletter_as_the_editor_reads_it():
    document = parse(NEWSLETTER.replace("asset.LOGO", "asset.ast_logo")).document
    assert document["settings"] == {"background": "#f5efe6", "width": 600, "font_family": FONT_STACKS[0],
                                    "text_color": "#3b2a1a", "line_height": "1.5",
                                    "css": ".offer { color: #8a1c1c; font-weight: bold; }", "fonts": []}
    logo, = document["sections"][0]["columns"][0]["blocks"]
    assert logo == {"id": "s1c1b1", "type": "image", "locked": False, "src": "asset:ast_logo",
                    "alt": "Comptoir des Saveurs", "width": "180px", "href": ""}
    main = document["sections"][1]["columns"][0]["blocks"]
    assert main[0]["src"] == "slot:visual"
    assert main[1] | {} == {"id": "s2c1b2", "type": "heading", "locked": False, "text": "{{ slot.headline }}",
                            "level": 1, "color": "", "align": "left"}
    assert main[5]["type"] == "button" and main[5]["label"] == "Découvrir la sélection"
    assert main[5]["href"] == "{{ slot.link }}" and main[5]["background"] == "#6b1d2a"
    footer = document["sections"][2]["columns"][0]["blocks"][1]
    assert footer["type"] == "footer" and "{{ system.unsubscribe_url }}" in footer["html"]


def test_published_demo_versions_read_as_blocks(world):
    published = load_demo_templates(network=world.networks["alpha"], author=world.users["head_office"])
    for name in ("newsletter", "invitation"):
        parsed = parse(published[name].body)
        assert parsed.problems == []
        assert parse(to_mjml(parsed.document).source).document == parsed.document
        assert rendering.mjml_to_html(to_mjml(parsed.document).source)


UNKNOWN = """<mjml>
  <mj-body>
    <mj-hero background-url="{{ asset.ast_x }}">
      <mj-text>Héros</mj-text>
    </mj-hero>
    <mj-section>
      <mj-column>
        <mj-text>Bonjour</mj-text>
        <mj-raw><p>brut</p></mj-raw>
        <mj-include path="./footer.mjml" />
        <mj-text font-family="Comic Sans MS">Police</mj-text>
        <mj-image src="https://example.com/x.png" alt="x" />
      </mj-column>
    </mj-section>
    <mj-section border="1px solid #000"><mj-column><mj-text>Bordure</mj-text></mj-column></mj-section>
  </mj-body>
</mjml>
"""


def test_what_the_editor_cannot_hold_is_kept_and_named_with_its_line():
    parsed = parse(UNKNOWN)
    lines = {problem.line: problem.message for problem in parsed.problems}
    assert set(lines) == {3, 9, 10, 11, 12, 15}
    assert "mj-hero" in lines[3] and "kept as a source block" in lines[3]
    assert "mj-raw" in lines[9] and "mj-include" in lines[10]
    assert "font-family" in lines[11] and "https://example.com/x.png" in lines[12]
    assert "border" in lines[15]
    assert str(parsed.problems[0]).startswith("line 3: <mj-hero> is not a block the editor knows")
    hero, section, bordered = parsed.document["sections"]
    assert hero["type"] == "source" and hero["locked"] and hero["mjml"].startswith("<mj-hero")
    assert hero["mjml"].endswith("</mj-hero>") and "Héros" in hero["mjml"]
    kinds = [(b["type"], b.get("mjml", "")) for b in section["columns"][0]["blocks"]]
    assert kinds[0][0] == "text"
    assert kinds[1] == ("source", "<mj-raw><p>brut</p></mj-raw>")
    assert kinds[2] == ("source", '<mj-include path="./footer.mjml" />')
    assert kinds[3] == ("source", '<mj-text font-family="Comic Sans MS">Police</mj-text>')
    assert kinds[4] == ("source", '<mj-image src="https://example.com/x.png" alt="x" />')
    assert bordered["type"] == "source" and "Bordure" in bordered["mjml"]
    # nothing lost: the source blocks come back verbatim in the MJML
    again = to_mjml(parsed.document).source
    for text in ('<mj-raw><p>brut</p></mj-raw>', '<mj-text font-family="Comic Sans MS">Police</mj-text>', "Héros"):
        assert text in again


def test_head_settings_the_editor_cannot_hold_are_named():
    parsed = parse('<mjml lang="fr">\n<mj-head>\n<mj-font name="Roboto" href="https://fonts.example/r.css" />\n'
                   '<mj-attributes><mj-button color="#fff" /></mj-attributes>\n</mj-head>\n'
                   '<mj-body width="2000px"><mj-section><mj-column></mj-column></mj-section></mj-body>\n</mjml>')
    lines = sorted(problem.line for problem in parsed.problems)
    assert lines == [1, 3, 4, 6]
    assert all("drops it" in p.message or "dropped" in p.message for p in parsed.problems)
    assert parsed.document["settings"]["width"] == 600


def test_broken_sources_say_where():
    parsed = parse("<mjml>\n<mj-body>\n<mj-section>\n<mj-column>\n</mj-section>\n</mj-body>\n</mjml>")
    assert any(problem.line == 4 and "never closed" in problem.message for problem in parsed.problems)
    assert parse("not mjml at all").problems[0].line == 1
