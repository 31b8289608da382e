"""Typed slots: each type accepts good values, refuses bad ones with a message naming the slot;
required/optional, defaults, unknown slot names; the network's guardrails (forbidden words,
allowed link domains) name the offending part."""

from datetime import date
from types import SimpleNamespace

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from local_stores.models import Node, NodeKind, Role
from local_stores.services import network_create, role_grant
from templates_lib import services, slots
from templates_lib.slots import Guardrails, SlotDefinition
from tests.factories import UserFactory

LABEL = "Zebra Label"  # distinctive, so that "the message names the slot" is unambiguous
NO_RULES = Guardrails()
ASSET_ID = "ast_0123456789abcdef"


def slot(slot_type: str, **extra) -> SlotDefinition:
    extra.setdefault("choices", ["Lille", "Arras"] if slot_type == slots.CHOICE else [])
    return SlotDefinition(name="field", type=slot_type, label=LABEL, **extra)


def clean(definition: SlotDefinition, raw, guardrails: Guardrails = NO_RULES):
    return slots.clean_value(definition, raw, guardrails=guardrails, asset_ids={ASSET_ID})


def refusal(definition: SlotDefinition, raw, guardrails: Guardrails = NO_RULES) -> str:
    with pytest.raises(ValidationError) as caught:
        clean(definition, raw, guardrails)
    return " ".join(caught.value.messages)


@pytest.fixture
def author(db):
    """A network's head-office marketer: lighter than ``world`` where only one author matters."""
    network = network_create(name="Gamma", slug="gamma", head_office_name="Gamma HQ")
    user = UserFactory(username="gamma_head_office")
    role_grant(
        user=user,
        node=Node.objects.get(network=network, kind=NodeKind.HEAD_OFFICE),
        role=Role.HEAD_OFFICE_MARKETER,
    )
    return SimpleNamespace(networks={"alpha": network}, users={"head_office": user})


# --- good values --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("slot_type", "raw", "expected"),
    [
        (slots.SHORT_TEXT, "Soldes d'été", "Soldes d'été"),
        (slots.SHORT_TEXT, "  trimmed  ", "trimmed"),
        (slots.SHORT_TEXT, "x" * 200, "x" * 200),
        (slots.LONG_TEXT, "Ligne un\r\nLigne deux", "Ligne un\nLigne deux"),
        (slots.LONG_TEXT, "y" * 2000, "y" * 2000),
        (slots.RICH_TEXT, "<b>Gras</b> et <em>italique</em>", "<b>Gras</b> et <em>italique</em>"),
        (slots.IMAGE, ASSET_ID, ASSET_ID),
        (slots.IMAGE, f"  {ASSET_ID} ", ASSET_ID),
        (slots.DATE, "2025-12-24", "2025-12-24"),
        (slots.DATE, date(2026, 2, 28), "2026-02-28"),
        (slots.DATE, "2024-02-29", "2024-02-29"),
        (slots.PRICE, "12.9", {"amount": "12.90", "currency": "EUR", "conditions": ""}),
        (slots.PRICE, "12,90", {"amount": "12.90", "currency": "EUR", "conditions": ""}),
        (slots.PRICE, 0, {"amount": "0.00", "currency": "EUR", "conditions": ""}),
        (
            slots.PRICE,
            {"amount": "1 234,5", "currency": "chf", "conditions": "Dès 2 achetés"},
            {"amount": "1234.50", "currency": "CHF", "conditions": "Dès 2 achetés"},
        ),
        (slots.URL, "https://example.com/offre?id=3", "https://example.com/offre?id=3"),
        (slots.URL, " http://shop.example.org/ ", "http://shop.example.org/"),
        (slots.CHOICE, "Arras", "Arras"),
        (slots.CHOICE, " Lille ", "Lille"),
    ],
)
def test_each_slot_type_accepts_good_values(slot_type, raw, expected):
    # given a slot of that type
    definition = slot(slot_type)
    # when a good value is cleaned
    cleaned = clean(definition, raw)
    # then its stored form is the normalised value
    assert cleaned == expected


def test_rich_text_keeps_safe_links_and_adds_rel():
    # given a rich text slot
    definition = slot(slots.RICH_TEXT)
    # when a value with an https link is cleaned
    cleaned = clean(definition, 'Voir <a href="https://example.com/offre">l\'offre</a>')
    # then the link stays, with rel="noopener noreferrer"
    assert 'href="https://example.com/offre"' in cleaned
    assert "noopener noreferrer" in cleaned


@pytest.mark.parametrize(
    ("raw", "forbidden"),
    [
        ("<script>alert(1)</script>Bonjour", "<script"),
        ('<img src="x" onerror="alert(1)">Bonjour', "onerror"),
        ('<a href="javascript:alert(1)">clic</a>', "javascript:"),
        ('<a href="data:text/html;base64,PHNjcmlwdD4=">clic</a>', "data:"),
        ('<a href="file:///etc/passwd">clic</a>', "file:"),
        ('<b onclick="alert(1)">x</b>', "onclick"),
        ('<mj-include path="/etc/passwd" />x', "mj-include"),
        ("<style>body{display:none}</style>x", "<style"),
        ('<iframe src="https://example.com"></iframe>x', "<iframe"),
    ],
)
def test_rich_text_never_keeps_active_content(raw, forbidden):
    # given a rich text slot
    definition = slot(slots.RICH_TEXT)
    # when a hostile value is cleaned, it is either refused…
    try:
        cleaned = clean(definition, raw)
    except ValidationError as error:
        assert LABEL in " ".join(error.messages)
        return
    # …or stored without the active part
    assert forbidden not in cleaned.lower()


# --- bad values ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("definition", "raw", "reason"),
    [
        (slot(slots.SHORT_TEXT), "two\nlines", "one line"),
        (slot(slots.SHORT_TEXT), "x" * 201, "201 characters"),
        (slot(slots.SHORT_TEXT, max_length=10), "eleven char", "10 at most"),
        (slot(slots.SHORT_TEXT), "null\x00byte", "control characters"),
        (slot(slots.SHORT_TEXT), "escape\x1b[31m", "control characters"),
        (slot(slots.LONG_TEXT), "y" * 2001, "2001 characters"),
        (slot(slots.LONG_TEXT, max_length=20), "z" * 21, "20 at most"),
        (slot(slots.LONG_TEXT), "bell\x07", "control characters"),
        (slot(slots.RICH_TEXT, max_length=20), "<b>" + "w" * 30 + "</b>", "too long"),
        (slot(slots.RICH_TEXT), '<a href="http://127.0.0.1/admin">x</a>', "internal"),
        (slot(slots.RICH_TEXT), '<a href="http://169.254.169.254/latest/meta-data">x</a>', "internal"),
        (slot(slots.IMAGE), "ast_unknown", "asset library"),
        (slot(slots.IMAGE), "https://evil.example/pic.png", "asset library"),
        (slot(slots.IMAGE), "file:///etc/passwd", "asset library"),
        (slot(slots.DATE), "24/12/2025", "YYYY-MM-DD"),
        (slot(slots.DATE), "2025-02-30", "YYYY-MM-DD"),
        (slot(slots.DATE), "demain", "YYYY-MM-DD"),
        (slot(slots.PRICE), "douze", "positive number"),
        (slot(slots.PRICE), "-1", "positive number"),
        (slot(slots.PRICE), "NaN", "positive number"),
        (slot(slots.PRICE), "Infinity", "positive number"),
        (slot(slots.PRICE), "100000000", "positive number"),
        (slot(slots.PRICE), {"amount": "10", "currency": "XYZ"}, "currency"),
        (slot(slots.PRICE), {"amount": "10", "conditions": "a\x00b"}, "control characters"),
        (slot(slots.PRICE), {"amount": "10", "conditions": "c" * 301}, "300 at most"),
        (slot(slots.URL), "javascript:alert(1)", "only http and https"),
        (slot(slots.URL), "JavaScript:alert(document.cookie)", "only http and https"),
        (slot(slots.URL), "java\tscript:alert(1)", "only http and https"),
        (
            slot(slots.URL),
            "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
            "only http and https",
        ),
        (slot(slots.URL), "file:///etc/passwd", "only http and https"),
        (slot(slots.URL), "ftp://example.com/file", "only http and https"),
        (slot(slots.URL), "example.com/no-scheme", "only http and https"),
        (slot(slots.URL), "//example.com/protocol-relative", "only http and https"),
        (slot(slots.URL), "https://", "only http and https"),
        (slot(slots.URL), "http://127.0.0.1:9/x", "internal"),
        (slot(slots.URL), "http://localhost:8000/admin/", "internal"),
        (slot(slots.URL), "http://169.254.169.254/latest/meta-data", "internal"),
        (slot(slots.URL), "http://10.0.0.1/", "internal"),
        (slot(slots.URL), "http://[::1]/", "internal"),
        (slot(slots.URL), "http://metadata.google.internal/computeMetadata/v1/", "internal"),
        (slot(slots.CHOICE), "Paris", "choose one of Lille, Arras"),
        (slot(slots.CHOICE), "lille", "choose one of"),
    ],
)
def test_each_slot_type_refuses_bad_values_naming_the_slot(definition, raw, reason):
    # given a slot and a value it must not accept
    # when the value is cleaned
    message = refusal(definition, raw)
    # then the error names the slot and says what is wrong
    assert LABEL in message
    assert reason in message


def test_unknown_slot_type_is_refused_naming_the_slot():
    definition = SlotDefinition(name="field", type="html", label=LABEL)
    message = refusal(definition, "<p>x</p>")
    assert LABEL in message
    assert "unknown slot type" in message


# --- required, optional, defaults, unknown names ------------------------------------------------


@pytest.mark.parametrize(
    "slot_type",
    [
        slots.SHORT_TEXT,
        slots.LONG_TEXT,
        slots.RICH_TEXT,
        slots.IMAGE,
        slots.DATE,
        slots.PRICE,
        slots.URL,
        slots.CHOICE,
    ],
)
@pytest.mark.parametrize("empty", [None, "", {"amount": "  ", "currency": "EUR"}])
def test_required_slot_refuses_an_empty_value(slot_type, empty):
    # given a required slot
    definition = slot(slot_type, required=True)
    # when it is left empty
    message = refusal(definition, empty)
    # then the error names the slot and says it is required
    assert LABEL in message
    assert "required" in message


@pytest.mark.parametrize(
    "slot_type",
    [
        slots.SHORT_TEXT,
        slots.LONG_TEXT,
        slots.RICH_TEXT,
        slots.IMAGE,
        slots.DATE,
        slots.PRICE,
        slots.URL,
        slots.CHOICE,
    ],
)
@pytest.mark.parametrize("empty", [None, ""])
def test_optional_slot_accepts_an_empty_value_as_none(slot_type, empty):
    definition = slot(slot_type, required=False)
    assert clean(definition, empty) is None


def test_clean_values_fills_missing_values_with_defaults_and_checks_them():
    # given slots with defaults, one optional without default
    definitions = [
        SlotDefinition(name="headline", type=slots.SHORT_TEXT, label="Titre", default="Nos nouveautés"),
        SlotDefinition(name="until", type=slots.DATE, label="Jusqu'au", default="2025-12-31"),
        SlotDefinition(name="offer", type=slots.PRICE, label="Prix", default="9,5"),
        SlotDefinition(name="note", type=slots.LONG_TEXT, label="Note", required=False),
    ]
    # when only one value is typed
    cleaned = slots.clean_values(definitions, {"headline": "Braderie"}, guardrails=NO_RULES)
    # then the typed value wins, the defaults fill the rest (cleaned too), the optional is None
    assert cleaned == {
        "headline": "Braderie",
        "until": "2025-12-31",
        "offer": {"amount": "9.50", "currency": "EUR", "conditions": ""},
        "note": None,
    }


def test_clean_values_refuses_an_invalid_default():
    definitions = [SlotDefinition(name="until", type=slots.DATE, label="Jusqu'au", default="someday")]
    with pytest.raises(ValidationError) as caught:
        slots.clean_values(definitions, {}, guardrails=NO_RULES)
    assert "Jusqu'au" in " ".join(caught.value.message_dict["until"])


def test_clean_values_reports_every_problem_keyed_by_slot_name():
    # given two slots
    definitions = [
        SlotDefinition(name="headline", type=slots.SHORT_TEXT, label="Titre"),
        SlotDefinition(name="link", type=slots.URL, label="Lien"),
    ]
    # when both are wrong and an unknown slot is sent
    with pytest.raises(ValidationError) as caught:
        slots.clean_values(
            definitions,
            {"headline": "a\nb", "link": "javascript:alert(1)", "sneaky": "{{ recipient.email }}"},
            guardrails=NO_RULES,
        )
    # then each is reported under its own name, the unknown one named
    errors = caught.value.message_dict
    assert set(errors) == {"headline", "link", "sneaky"}
    assert "Titre" in errors["headline"][0]
    assert "Lien" in errors["link"][0]
    assert "sneaky" in errors["sneaky"][0]


@pytest.mark.parametrize("unknown", ["headlinee", "HEADLINE", "slot.headline", "__class__"])
def test_slot_values_clean_refuses_unknown_slot_names(author, unknown):
    # given a template (starter slot "headline")
    template = services.template_create(
        network=author.networks["alpha"], kind="email", name="Promo", created_by=author.users["head_office"]
    )
    version = template.versions.get()
    # when a value is sent for a slot it does not declare
    with pytest.raises(ValidationError) as caught:
        services.slot_values_clean(version=version, values={"headline": "Ok", unknown: "x"})
    # then it is refused, named
    assert unknown in caught.value.message_dict
    assert unknown in caught.value.message_dict[unknown][0]


def test_slot_values_clean_uses_the_version_definitions(author):
    # given a draft with typed slots
    template = services.template_create(
        network=author.networks["alpha"], kind="email", name="Promo", created_by=author.users["head_office"]
    )
    version = services.draft_update(
        version=template.versions.get(),
        edited_by=author.users["head_office"],
        slots=[
            {"name": "headline", "type": "short_text", "label": "Titre", "max_length": 12},
            {"name": "when", "type": "date", "label": "Date de l'offre", "required": False},
            {"name": "size", "type": "choice", "label": "Taille", "choices": ["S", "M"], "default": "M"},
        ],
    )
    # when good values are sent
    assert services.slot_values_clean(version=version, values={"headline": "Court"}) == {
        "headline": "Court",
        "when": None,
        "size": "M",
    }
    # then bad ones are refused with the slot's label
    with pytest.raises(ValidationError) as caught:
        services.slot_values_clean(
            version=version, values={"headline": "Bien trop long titre", "when": "31/12", "size": "XL"}
        )
    errors = caught.value.message_dict
    assert "Titre" in errors["headline"][0] and "12 at most" in errors["headline"][0]
    assert "Date de l'offre" in errors["when"][0]
    assert "Taille" in errors["size"][0]


# --- slot declarations --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("declaration", "reason"),
    [
        ({"name": "Headline", "type": "short_text"}, "lowercase"),
        ({"name": "1st", "type": "short_text"}, "lowercase"),
        ({"name": "a-b", "type": "short_text"}, "lowercase"),
        ({"name": "x", "type": "html"}, "type must be one of"),
        ({"name": "x", "type": "short_text", "max_length": 500}, "1 to 200"),
        ({"name": "x", "type": "long_text", "max_length": 0}, "1 to 2000"),
        ({"name": "x", "type": "choice", "choices": ["only"]}, "two options"),
    ],
)
def test_bad_slot_declarations_are_refused(declaration, reason):
    with pytest.raises(ValidationError) as caught:
        slots.parse_definitions([declaration], kind="email")
    assert reason in " ".join(caught.value.messages)


@pytest.mark.parametrize("slot_type", [slots.IMAGE, slots.RICH_TEXT])
def test_sms_refuses_image_and_rich_text_slots(slot_type):
    with pytest.raises(ValidationError):
        slots.parse_definitions([{"name": "x", "type": slot_type}], kind="sms")


def test_two_slots_with_the_same_name_are_refused():
    with pytest.raises(ValidationError) as caught:
        slots.parse_definitions(
            [{"name": "x", "type": "short_text"}, {"name": "x", "type": "date"}], kind="print"
        )
    assert "two slots have this name" in " ".join(caught.value.messages)


# --- guardrails ---------------------------------------------------------------------------------


@pytest.fixture
def guarded(author):
    """An e-mail draft with text, rich text, price and link slots, and the network's rules set:
    "gratuit" forbidden, links only to exemple.fr (and its subdomains)."""
    head_office = author.users["head_office"]
    services.content_rules_update(
        network=author.networks["alpha"],
        updated_by=head_office,
        forbidden_patterns="gratuit\n100 ?%",
        allowed_link_domains="exemple.fr",
        sms_stop_mention="STOP au 36173",
    )
    template = services.template_create(
        network=author.networks["alpha"], kind="email", name="Guarded", created_by=head_office
    )
    return services.draft_update(
        version=template.versions.get(),
        edited_by=head_office,
        slots=[
            {"name": "headline", "type": "short_text", "label": "Titre", "required": False},
            {"name": "story", "type": "long_text", "label": "Histoire", "required": False},
            {"name": "rich", "type": "rich_text", "label": "Texte riche", "required": False},
            {"name": "offer", "type": "price", "label": "Prix", "required": False},
            {"name": "link", "type": "url", "label": "Lien", "required": False},
        ],
    )


@pytest.mark.parametrize(
    ("values", "slot_name", "label", "offending"),
    [
        ({"headline": "Café GRATUIT ce samedi"}, "headline", "Titre", "GRATUIT"),
        ({"story": "Première ligne\nlivraison gratuite"}, "story", "Histoire", "gratuit"),
        ({"rich": "<b>Gratuit</b> pour tous"}, "rich", "Texte riche", "Gratuit"),
        ({"offer": {"amount": "5", "conditions": "Le 2e gratuit"}}, "offer", "Prix", "gratuit"),
        ({"headline": "Remise 100% garantie"}, "headline", "Titre", "100%"),
    ],
)
def test_forbidden_word_is_refused_with_the_offending_part_named(
    guarded, values, slot_name, label, offending
):
    # given alpha forbids "gratuit"
    # when a slot value contains it
    with pytest.raises(ValidationError) as caught:
        services.slot_values_clean(version=guarded, values=values)
    # then the slot is refused, the message names the slot and the offending words
    message = " ".join(caught.value.message_dict[slot_name])
    assert label in message
    assert f"“{offending}”" in message


@pytest.mark.parametrize(
    ("values", "slot_name", "label", "host"),
    [
        ({"link": "https://evil.example.com/promo"}, "link", "Lien", "evil.example.com"),
        ({"link": "https://exemple.fr.evil.com/"}, "link", "Lien", "exemple.fr.evil.com"),
        ({"link": "https://notexemple.fr/"}, "link", "Lien", "notexemple.fr"),
        (
            {"rich": 'Voir <a href="https://phishing.test/login">ici</a>'},
            "rich",
            "Texte riche",
            "phishing.test",
        ),
    ],
)
def test_link_outside_allowed_domains_is_refused_with_the_domain_named(
    guarded, values, slot_name, label, host
):
    with pytest.raises(ValidationError) as caught:
        services.slot_values_clean(version=guarded, values=values)
    message = " ".join(caught.value.message_dict[slot_name])
    assert label in message
    assert f"“{host}”" in message
    assert "exemple.fr" in message


@pytest.mark.parametrize(
    "values",
    [
        {"link": "https://exemple.fr/offre"},
        {"link": "https://boutique.exemple.fr/offre"},
        {"link": "HTTPS://WWW.EXEMPLE.FR/"},
        {"rich": 'Voir <a href="https://www.exemple.fr/">le site</a>'},
        {"headline": "Offre spéciale, livraison offerte"},
    ],
)
def test_values_within_the_rules_pass(guarded, values):
    cleaned = services.slot_values_clean(version=guarded, values=values)
    for name in values:
        assert cleaned[name]


def test_publication_refuses_defaults_that_break_the_rules(author):
    # given a draft whose default headline contains a word alpha then forbids
    head_office = author.users["head_office"]
    template = services.template_create(
        network=author.networks["alpha"], kind="sms", name="Default", created_by=head_office
    )
    services.content_rules_update(
        network=author.networks["alpha"],
        updated_by=head_office,
        forbidden_patterns="nouveaut",
        allowed_link_domains="",
        sms_stop_mention="STOP au 36173",
    )
    # when it is published
    with pytest.raises(ValidationError) as caught:
        services.version_publish(version=template.versions.get(), published_by=head_office)
    # then publication is refused, naming the rule's match in the default
    assert "nouveaut" in " ".join(caught.value.message_dict["slots"]).lower()
    assert not template.versions.get().is_published


@pytest.mark.parametrize(
    ("field", "forbidden_patterns", "allowed_link_domains", "stop"),
    [
        ("forbidden_patterns", "gratuit\n(unclosed", "", "STOP au 36173"),
        ("allowed_link_domains", "", "not a domain", "STOP au 36173"),
        ("allowed_link_domains", "", "https://exemple.fr", "STOP au 36173"),
        ("sms_stop_mention", "", "", "Répondez NON"),
    ],
)
def test_content_rules_are_validated(author, field, forbidden_patterns, allowed_link_domains, stop):
    with pytest.raises(ValidationError) as caught:
        services.content_rules_update(
            network=author.networks["alpha"],
            updated_by=author.users["head_office"],
            forbidden_patterns=forbidden_patterns,
            allowed_link_domains=allowed_link_domains,
            sms_stop_mention=stop,
        )
    assert field in caught.value.message_dict


@pytest.mark.parametrize("actor", ["branch_manager", "other_network_head_office"])
def test_only_the_head_office_sets_content_rules(world, actor):
    with pytest.raises(PermissionDenied):
        services.content_rules_update(
            network=world.networks["alpha"],
            updated_by=world.users[actor],
            forbidden_patterns="",
            allowed_link_domains="",
            sms_stop_mention="STOP au 36173",
        )


def test_a_price_takes_the_network_s_currency_whatever_its_code():
    """A network in Canadian dollars (any ISO 4217 code its settings accept) saves its prices in it;
    a code that is not a currency is refused, naming the network's."""
    from local_stores.money import currency_override

    definition = slot(slots.PRICE)
    with currency_override("CAD"):
        assert clean(definition, "12,5") == {"amount": "12.50", "currency": "CAD", "conditions": ""}
        assert clean(definition, {"amount": "3", "currency": "mad"})["currency"] == "MAD"
        with pytest.raises(ValidationError, match="such as CAD"):
            clean(definition, {"amount": "3", "currency": "XYZ1"})
    assert slots.format_price({"amount": "12.50", "currency": "CAD"}).endswith("\u00a0CAD")
