import re

import pytest

from tests.conftest import ACTORS

pytestmark = pytest.mark.django_db


def test_branch_manager_home_and_customer_pages_render(world):
    client = world.client_for("branch_manager")
    assert client.get("/").status_code == 200
    response = client.get("/customers/")
    assert response.status_code == 200
    assert "Anne" in response.content.decode()
    assert "Bruno" not in response.content.decode()


def test_customer_search_finds_a_mobile_written_the_french_way(world):
    body = world.client_for("branch_manager").get("/customers/", {"q": "06 12 34 56 78"}).content.decode()
    assert "Anne" in body


def test_api_page_size_is_capped(world):
    response = world.client_for("head_office").get("/api/v1/customers/", {"page_size": 100000})
    assert response.status_code == 200
    assert response.json()["count"] == 3


def test_api_rejects_an_invalid_filter_with_field_errors(world):
    response = world.client_for("head_office").get("/api/v1/customers/", {"reachable_by": "pigeon"})
    assert response.status_code == 400
    assert "reachable_by" in response.json()


@pytest.mark.parametrize("actor", sorted(ACTORS))
def test_every_menu_link_leads_somewhere_for_every_role(world, actor):
    """The menu offers only what the user reaches: no link answers 404 (a branch manager has no
    approvals inbox, an approver or an analyst no customer list)."""
    client = world.client_for(actor)
    menu = re.search(r'<ul class="navbar-nav[^"]*">(.*?)</ul>', client.get("/").content.decode(), re.S).group(1)
    links = re.findall(r'href="([^"]+)"', menu)
    assert "/" in links and "/reports/" in links
    assert {link: client.get(link).status_code for link in links} == dict.fromkeys(links, 200)
