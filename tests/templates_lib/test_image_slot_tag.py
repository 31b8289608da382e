"""Image slots limited to a tag: head office declares the tag, branches are offered and may save
only the library images carrying it — through the pages and the API alike."""

from __future__ import annotations

import hashlib
import json
from html.parser import HTMLParser

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation

from approvals.services import proof_request
from central.campaigns.services import campaign_update
from central.models import Campaign
from fixtures.demo_templates import load_demo_templates
from templates_lib import previews, rendering, services, slots
from templates_lib.models import Asset, Template, TemplateVersion
from tests.planning import joined_campaign
from tests.snapshots import png_bytes

pytestmark = pytest.mark.django_db

BODY = """<mjml><mj-body><mj-section><mj-column>
<mj-image src="{{ slot.visual }}" alt="" />
<mj-text>{{ slot.headline }}</mj-text>
<mj-text><a href="{{ system.unsubscribe_url }}">Se désinscrire</a></mj-text>
</mj-column></mj-section></mj-body></mjml>"""


def _upload(world, name: str, tags: str) -> Asset:
    return services.asset_upload(
        network=world.networks["alpha"], name=name, tags=tags, uploaded_by=world.users["head_office"],
        uploaded_file=SimpleUploadedFile(f"{name}.png", png_bytes((40, 20), "red"), content_type="image/png"))


@pytest.fixture
def images(world, media):
    return {
        "bottles": _upload(world, "Bouteilles", "vins, Foire aux vins"),
        "glasses": _upload(world, "Verres", "foire-aux-vins"),
        "cheese": _upload(world, "Fromages", "fromages"),
    }


def _draft(world, visual: dict) -> TemplateVersion:
    template = Template.objects.create(network=world.networks["alpha"], kind="email", name="Foire",
                                       created_by=world.users["head_office"])
    draft = TemplateVersion.objects.create(template=template, number=1, body="", created_by=world.users["head_office"])
    return services.draft_update(version=draft, edited_by=world.users["head_office"], subject="{{ slot.headline }}",
                                 body=BODY, slots=[
                                     {"name": "headline", "type": "short_text", "label": "Titre", "max_length": 80,
                                      "default": "La foire aux vins"},
                                     {"name": "visual", "type": "image", "label": "Visuel", **visual}])


@pytest.fixture
def version(world, images):
    draft = _draft(world, {"tag": "Foire aux vins", "default": images["bottles"].public_id})
    return services.version_publish(version=draft, published_by=world.users["head_office"])


@pytest.fixture
def campaign(world, version):
    return joined_campaign(world, version=version)


class _FormFields(HTMLParser):
    """The fields a browser posts for the form ``form_id``: its inputs, selected options and textareas."""

    def __init__(self, form_id: str) -> None:
        super().__init__()
        self.form_id, self.inside, self.select, self.textarea = form_id, False, None, None
        self.data: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.inside = attrs.get("id") == self.form_id
        if not self.inside or "disabled" in attrs:
            return
        if tag == "input" and attrs.get("name") and attrs.get("type") not in ("submit", "button"):
            if attrs.get("type") in ("checkbox", "radio"):
                if "checked" in attrs:
                    self.data[attrs["name"]] = attrs.get("value") or "on"  # a browser's default value
                return
            self.data[attrs["name"]] = attrs.get("value") or ""
        elif tag == "select":
            self.select = attrs.get("name")
        elif tag == "option" and self.select:
            if "selected" in attrs or self.select not in self.data:  # none selected: a browser posts the first
                self.data[self.select] = attrs.get("value") or ""
        elif tag == "textarea":
            self.textarea = attrs.get("name")
            self.data[self.textarea] = ""

    def handle_data(self, data):
        if self.textarea:
            self.data[self.textarea] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self.select = None
        elif tag == "textarea":
            if self.data.get(self.textarea, "").startswith("\n"):
                self.data[self.textarea] = self.data[self.textarea][1:]
            self.textarea = None


def _browser_post_data(page: str, form_id: str = "campaign-form") -> dict[str, str]:
    parser = _FormFields(form_id)
    parser.feed(page)
    return parser.data


def _options(page: str, name: str) -> str:
    start = page.index(f'name="{name}"')
    return page[start:page.index("</select>", start)]


# --- the declaration --------------------------------------------------------------------------


def test_the_tag_is_normalised_like_the_library_tags_and_kept_for_image_slots():
    [definition] = slots.parse_definitions(
        [{"name": "visual", "type": "image", "label": "Visuel", "tag": " Foire aux Vins "}], kind="email")
    assert definition.tag == "foire-aux-vins"
    assert definition.as_dict()["tag"] == "foire-aux-vins"
    [plain] = slots.parse_definitions([{"name": "visual", "type": "image", "label": "Visuel"}], kind="email")
    assert plain.tag == "" and "tag" not in plain.as_dict()


@pytest.mark.parametrize(("item", "says"), [
    ({"type": "short_text", "tag": "vins"}, "only an image slot can be limited to a tag"),
    ({"type": "image", "tag": "!!!"}, "the tag is one tag of the library"),
    ({"type": "image", "tag": "vins, noel"}, "the tag is one tag of the library"),
])
def test_a_malformed_or_misplaced_tag_is_refused(item, says):
    with pytest.raises(ValidationError) as error:
        slots.parse_definitions([{"name": "visual", "label": "Visuel", **item}], kind="email")
    assert any(says in message for message in error.value.messages)


def test_a_version_without_tag_keeps_the_json_and_hash_it_had_before_tags(world, images):
    draft = _draft(world, {"default": images["cheese"].public_id})
    before_tags = [  # the slot JSON as versions were saved before image tags existed
        {"name": "headline", "type": "short_text", "label": "Titre", "help_text": "", "default": "La foire aux vins",
         "required": True, "max_length": 80, "choices": []},
        {"name": "visual", "type": "image", "label": "Visuel", "help_text": "", "default": images["cheese"].public_id,
         "required": True, "max_length": None, "choices": []},
    ]
    assert TemplateVersion.objects.get(pk=draft.pk).slots == before_tags
    published = services.version_publish(version=draft, published_by=world.users["head_office"])
    content = {"kind": "email", "subject": "{{ slot.headline }}", "preheader": "", "body": BODY, "css": "",
               "print_format": "", "slots": before_tags}
    assert published.content_hash == hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def test_the_demo_versions_keep_their_slot_json_and_content_hash(world, media):
    versions = load_demo_templates(network=world.networks["alpha"], author=world.users["head_office"])
    assert versions
    for version in versions.values():
        version = TemplateVersion.objects.get(pk=version.pk)
        assert all("tag" not in item for item in version.slots)
        reparsed = [d.as_dict() for d in slots.parse_definitions(version.slots, kind=version.template.kind)]
        assert reparsed == version.slots
        assert version.compute_hash() == version.content_hash


def test_the_source_editor_saves_the_tag_normalised(world, images):
    draft = _draft(world, {})
    client = world.client_for("head_office")
    page = client.get(f"/templates/versions/{draft.public_id}/edit/").content.decode()
    assert "Only images tagged" in page
    data = _browser_post_data(page, "draft-form")
    data["slots-1-tag"] = "Foire aux vins"
    data["save"] = ""
    response = client.post(f"/templates/versions/{draft.public_id}/edit/", data)
    assert response.status_code == 302
    assert TemplateVersion.objects.get(pk=draft.pk).slots[1]["tag"] == "foire-aux-vins"


# --- publication ------------------------------------------------------------------------------


def test_publishing_refuses_a_default_image_without_the_tag(world, images):
    draft = _draft(world, {"tag": "foire-aux-vins", "default": images["cheese"].public_id})
    with pytest.raises(ValidationError) as error:
        services.version_publish(version=draft, published_by=world.users["head_office"])
    assert "Visuel: choose an image tagged “foire-aux-vins”." in error.value.messages
    assert TemplateVersion.objects.get(pk=draft.pk).status == "draft"


def test_publishing_refuses_a_tag_no_live_image_carries(world, images):
    Asset.objects.filter(pk=images["cheese"].pk).update(is_archived=True)
    draft = _draft(world, {"tag": "fromages", "required": False})  # a draft saves with any tag
    with pytest.raises(ValidationError) as error:
        services.version_publish(version=draft, published_by=world.users["head_office"])
    assert error.value.messages == ["Visuel: no image of the library is tagged “fromages”."]


# --- what branches are offered and may save ---------------------------------------------------


def test_the_branch_editor_and_the_try_page_offer_only_the_tagged_images(world, images, version, campaign):
    page = world.client_for("branch_manager").get(f"/network/campaigns/{campaign.public_id}/").content.decode()
    offered = _options(page, "visual")
    assert "Bouteilles" in offered and "Verres" in offered and "Fromages" not in offered
    assert 'alt="Fromages"' not in page and 'alt="Bouteilles"' in page  # the thumbnails beside the form too
    tried = world.client_for("head_office").get(f"/templates/{version.template.public_id}/try/").content.decode()
    assert "Verres" in _options(tried, "visual") and "Fromages" not in tried


def test_the_branch_page_refuses_an_image_without_the_tag_as_a_browser_posts_it(world, images, campaign):
    client = world.client_for("branch_manager")
    url = f"/network/campaigns/{campaign.public_id}/"
    data = _browser_post_data(client.get(url).content.decode())
    assert data["visual"] == images["bottles"].public_id and "send_date" in data
    response = client.post(url, {**data, "visual": images["cheese"].public_id})
    assert response.status_code == 200
    assert "Visuel: choose an image tagged “foire-aux-vins”." in response.content.decode()
    assert Campaign.objects.get(pk=campaign.pk).slot_values["visual"] == images["bottles"].public_id
    response = client.post(url, {**data, "visual": images["glasses"].public_id})
    assert response.status_code == 302
    assert Campaign.objects.get(pk=campaign.pk).slot_values["visual"] == images["glasses"].public_id


def test_the_api_refuses_an_image_without_the_tag(world, images, campaign):
    client = world.client_for("branch_manager")
    url = f"/api/v1/campaigns/{campaign.public_id}/"
    response = client.patch(url, {"slot_values": {"visual": images["cheese"].public_id}},
                            content_type="application/json")
    assert response.status_code == 400
    assert "Visuel: choose an image tagged “foire-aux-vins”." in json.dumps(response.json(), ensure_ascii=False)
    assert Campaign.objects.get(pk=campaign.pk).slot_values["visual"] == images["bottles"].public_id
    response = client.patch(url, {"slot_values": {"visual": images["glasses"].public_id}},
                            content_type="application/json")
    assert response.status_code == 200
    assert Campaign.objects.get(pk=campaign.pk).slot_values["visual"] == images["glasses"].public_id


def test_the_message_is_in_french(world, images, version):
    with translation.override("fr"), pytest.raises(ValidationError) as error:
        services.slot_values_clean(version=version, values={"visual": images["cheese"].public_id})
    assert error.value.message_dict["visual"] == ["Visuel\u00a0: choisissez une image portant l’étiquette «\u00a0foire-aux-vins\u00a0»."]


# --- an image re-tagged or archived after a branch chose it -----------------------------------


@pytest.mark.parametrize(("change", "says"), [
    ({"tags": ",vins,"}, "Visuel: choose an image tagged “foire-aux-vins”."),
    ({"is_archived": True}, "Visuel: choose an image of the asset library."),
])
def test_a_draft_holding_an_image_that_left_the_tag_keeps_it_but_must_change_it(world, images, campaign, change, says):
    Asset.objects.filter(pk=images["bottles"].pk).update(**change)
    held = dict(Campaign.objects.get(pk=campaign.pk).slot_values)
    assert held["visual"] == images["bottles"].public_id  # nothing changed behind the branch's back
    page = world.client_for("branch_manager").get(f"/network/campaigns/{campaign.public_id}/").content.decode()
    assert says in page and "Bouteilles" not in _options(page, "visual")
    with pytest.raises(ValidationError) as error:
        campaign_update(campaign=campaign, updated_by=world.users["branch_manager"], slot_values=held)
    assert error.value.message_dict["visual"] == [says]
    with pytest.raises(ValidationError) as error:
        proof_request(campaign=Campaign.objects.get(pk=campaign.pk), requested_by=world.users["branch_manager"])
    assert error.value.message_dict["visual"] == [says]
    assert Campaign.objects.get(pk=campaign.pk).slot_values == held
    # what was already rendered with it still renders (a frozen proof keeps its own copy of the image)
    output = previews.render_for_kind(campaign.template_version, rendering.VariantContext(slot_values=held))
    assert rendering.asset_public_url(Asset.objects.get(pk=images["bottles"].pk)) in output.html
