"""The structure's pages on a phone (390 × 844) in a real browser: no sideways scrolling, no
serious accessibility violation, the main actions in sight (issue 22, part B)."""

import pytest
from playwright.sync_api import expect

from tests.browser import log_in, no_sideways_scroll

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_structure_pages_work_at_390_px(transactional_world, phone, live_server):
    world = transactional_world
    log_in(phone, "head_office", then="/network/structure/")
    no_sideways_scroll(phone)
    expect(phone.get_by_role("link", name="New region")).to_be_in_viewport()
    phone.get_by_role("link", name="Arras").click()
    expect(phone.get_by_test_id("node-state")).to_have_text("Open")
    phone.get_by_role("button", name="Close").click()
    expect(phone.get_by_text("Arras cannot be closed yet.")).to_be_visible()
    no_sideways_scroll(phone)
    phone.goto(live_server.url + f"/network/structure/{world.nodes['N1'].public_id}/move/")
    no_sideways_scroll(phone)
    phone.goto(live_server.url + "/network/structure/import/")
    phone.set_input_files("input[type=file]", files=[{"name": "r.csv", "mimeType": "text/csv", "buffer":
                          b"region,branch_code,name,email\nNorth,N5,Douai,pas-une-adresse\nNorth,N6,Lens,\n"}])
    phone.get_by_role("button", name="Import").click()
    expect(phone.get_by_test_id("import-errors")).to_contain_text("pas-une-adresse")
    no_sideways_scroll(phone)
