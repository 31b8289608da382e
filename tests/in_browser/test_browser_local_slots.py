"""The branch's own text in head office's national message, on a phone (390 × 844), in a real browser
(Playwright driving Debian's chromium against pytest-django's live server): no sideways scrolling, no
serious accessibility violation, head office's text shown as the default, the branch's text saved with
the thumb, and a forbidden word refused beside the field. The answers are in tests/central/campaigns/test_local_slots.py.
"""

import pytest
from playwright.sync_api import expect

from central.campaigns.local_slots import local_slots_set
from central.models import LocalSlotValues
from templates_lib.services import content_rules_update
from tests.browser import log_in, no_sideways_scroll
from tests.central.campaigns.test_target_review import setup  # noqa: F401 - the operation, head office's SMS, Lille's customers

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_branch_writes_its_text_on_a_phone(setup, phone, js_problems):  # noqa: F811
    world, operation, national, _people = setup
    local_slots_set(campaign=national, slots=["message"], by=world.users["head_office"])
    content_rules_update(network=world.networks["alpha"], updated_by=world.users["head_office"],
                         forbidden_patterns="gratuit", allowed_link_domains="", sms_stop_mention="STOP au 36173")
    log_in(phone, "branch_manager", then=f"/network/operations/{operation.public_id}/target-review/")
    panel = phone.locator(".local-texts")
    field = panel.get_by_label("Message")
    expect(field).to_have_attribute("placeholder", "vins de fête")
    no_sideways_scroll(phone)

    field.fill("Tout gratuit")
    panel.get_by_role("button", name="Save my text").click()
    expect(phone.locator("#review-errors")).to_contain_text("“gratuit” is not allowed by the network's rules")
    expect(panel.locator(".invalid-feedback")).to_contain_text("“gratuit” is not allowed by the network's rules")
    no_sideways_scroll(phone)

    panel.get_by_label("Message").fill("vins de Lille")
    panel.get_by_role("button", name="Save my text").click()
    expect(phone.get_by_role("status")).to_contain_text("Your text in head office's message was saved.")
    expect(phone.locator(".local-texts").get_by_label("Message")).to_have_value("vins de Lille")
    no_sideways_scroll(phone)
    assert list(LocalSlotValues.objects.values_list("branch__name", "values")) == [
        ("Lille", {"message": "vins de Lille"})]
    assert js_problems == []
