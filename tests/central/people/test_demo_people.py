"""The demo's people are members of their network: the head office sees them on the people page."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from local_stores.models import Membership

pytestmark = pytest.mark.django_db


def test_demo_people_are_members_listed_on_the_people_page():
    call_command("demo_load", customers=50, stdout=io.StringIO())
    holders = get_user_model().objects.filter(groups__relais_role__isnull=False).distinct()
    assert holders.count() == Membership.objects.filter(source="demo").count() > 5
    marie = get_user_model().objects.get(username="marie.dupont")
    assert marie.membership.network.slug == "comptoir"
    browser = Client()
    browser.force_login(marie)
    page = browser.get("/network/people/")
    html = page.content.decode()
    assert page.status_code == 200 and "Marie" in html
    assert "Roux" not in html and "julie" not in html.replace("julien", "")  # Hôtels Azur's head office is another network's
