"""Print runs are retrieved (issue 18, item 5): the mail merge, the store's flyer and the manifest of
a real print run of branch N1 download from the campaign page and the API for whoever sees the
campaign's customers — its branch manager, its regional manager, head office — and answer 404 to
every other role and network, exactly as a missing file; nothing of them is served under MEDIA_URL,
even as the demo (DEBUG) serves the public uploads."""

from __future__ import annotations

import importlib

import pytest
from django.conf import settings
from django.test import override_settings
from django.urls import clear_url_caches

import config.urls
from central.delivery import sending
from central.models import PrintFile, PrintHandoff
from tests.dispatching import add_customers, print_version, to_sending
from tests.planning import joined_campaign

pytestmark = pytest.mark.django_db

#: who downloads N1's print run
ALLOWED = ("branch_manager", "regional_manager", "head_office")
#: who gets 404, as for a file that does not exist
REFUSED = ("sibling_branch_manager", "other_region_manager", "other_network_head_office", "approver", "analyst")


@pytest.fixture
def print_run(world, settings, tmp_path, django_capture_on_commit_callbacks):
    settings.MEDIA_ROOT = tmp_path
    campaign = joined_campaign(world, version=print_version(world), channels=["post"], reachable=0)
    add_customers(world, 2, prefix="p", channel="post")
    campaign = to_sending(world, campaign)
    with django_capture_on_commit_callbacks(execute=True):
        sending.campaign_dispatch(campaign=campaign)
    merge = PrintFile.objects.get(campaign=campaign, kind=PrintFile.Kind.MAIL_MERGE)
    flyer = PrintFile.objects.get(campaign=campaign, kind=PrintFile.Kind.FLYER)
    return campaign, merge, flyer, PrintHandoff.objects.get(print_file=merge)


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def urls_of(merge, flyer, handoff) -> list[tuple[str, bytes, str]]:
    merge_bytes, flyer_bytes, manifest_bytes = (field.open("rb").read() for field in (merge.file, flyer.file,
                                                                                        handoff.manifest))
    return [
        (f"/print/files/{merge.public_id}/", merge_bytes, "application/pdf"),
        (f"/print/files/{flyer.public_id}/", flyer_bytes, "application/pdf"),
        (f"/print/runs/{handoff.public_id}/manifest/", manifest_bytes, "text/csv; charset=utf-8"),
        (f"/api/v1/print-files/{merge.public_id}/", merge_bytes, "application/pdf"),
        (f"/api/v1/print-files/{flyer.public_id}/", flyer_bytes, "application/pdf"),
        (f"/api/v1/print-runs/{handoff.public_id}/manifest/", manifest_bytes, "text/csv; charset=utf-8"),
    ]


def test_the_right_roles_download_the_print_run(world, print_run):
    campaign, merge, flyer, handoff = print_run
    for role in ALLOWED:
        client = world.client_for(role)
        for url, expected, content_type in urls_of(merge, flyer, handoff):
            response = client.get(url)
            assert response.status_code == 200, (role, url)
            assert response["Content-Type"] == content_type and body(response) == expected, (role, url)
            assert response["Content-Disposition"].startswith("attachment;"), (role, url)
            assert response["Cache-Control"] == "private, no-store", (role, url)
        page = client.get(f"/network/campaigns/{campaign.public_id}/").content.decode()
        assert f"/print/files/{merge.public_id}/" in page and f"/print/files/{flyer.public_id}/" in page, role
        assert f"/print/runs/{handoff.public_id}/manifest/" in page, role
    manifest = body(world.client_for("branch_manager").get(f"/print/runs/{handoff.public_id}/manifest/")).decode()
    assert manifest.splitlines()[1].startswith("1,2,1,1,1,Prénom0 P000,0 rue des Vignes,59000,Lille,FR,")


def test_every_other_role_and_network_gets_404_like_a_missing_file(world, print_run):
    campaign, merge, flyer, handoff = print_run
    missing = [("/print/files/prt_zzmissing000000/", None, None), ("/print/runs/prh_zzmissing000000/manifest/", None, None),
               ("/api/v1/print-files/prt_zzmissing000000/", None, None),
               ("/api/v1/print-runs/prh_zzmissing000000/manifest/", None, None)]
    for role in REFUSED:
        client = world.client_for(role)
        for url, _expected, _type in urls_of(merge, flyer, handoff) + missing:
            response = client.get(url)
            assert response.status_code == 404, (role, url, response.status_code)
            assert "Prénom0".encode() not in response.content, (role, url)
        assert client.get(f"/api/v1/campaigns/{campaign.public_id}/print/").status_code == 404, role
        page = client.get(f"/network/campaigns/{campaign.public_id}/")
        assert f"/print/files/{merge.public_id}/" not in page.content.decode(), role  # no panel (or no page)
    for role in ALLOWED:
        client = world.client_for(role)
        assert all(client.get(url).status_code == 404 for url, _e, _t in missing), role
    anonymous = world.client_for("anonymous")
    for url, _expected, _type in urls_of(merge, flyer, handoff):
        response = anonymous.get(url)
        if url.startswith("/api/"):
            assert response.status_code in (401, 403), url
        else:
            assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), url


@pytest.fixture
def demo_urls():
    """The URLs as the demo (DEBUG) builds them: the public uploads served under MEDIA_URL."""
    with override_settings(DEBUG=True):
        clear_url_caches()
        importlib.reload(config.urls)
        yield
    clear_url_caches()
    importlib.reload(config.urls)


def test_nothing_of_a_print_run_is_served_under_media(world, print_run, demo_urls):
    _campaign, merge, flyer, handoff = print_run
    for name in (merge.file.name, flyer.file.name, handoff.manifest.name, handoff.bat.name):
        assert name.startswith("print/")
        for role in ("anonymous", "branch_manager", "head_office"):
            assert world.client_for(role).get(settings.MEDIA_URL + name).status_code == 404, (role, name)
