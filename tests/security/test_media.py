"""Uploaded files: only the images messages show (assets) and the branches' logos are served by URL
(the demo serves them itself; in production the web server serves the same two directories);
customer files being imported and print runs (names and addresses) never are, whoever asks."""

import importlib

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import override_settings
from django.urls import clear_url_caches

import config.urls

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_urls():
    """The URLs as the demo (DEBUG) builds them."""
    with override_settings(DEBUG=True):
        clear_url_caches()
        importlib.reload(config.urls)
        yield
    clear_url_caches()
    importlib.reload(config.urls)


@pytest.fixture
def stored():
    names = [default_storage.save(path, ContentFile(content)) for path, content in (
        ("imports/2026/11/customers.csv", b"external_id,email\nC1,secret@example.test\n"),
        ("print/cmp_x-mail-merge-1.pdf", b"%PDF-1.4 Anne Nord 12 rue des Vignes"),
        ("assets/2026/11/banner.txt", b"public image stand-in"),
    )]
    yield names
    for name in names:
        default_storage.delete(name)


def test_only_assets_and_logos_are_served(client, world, demo_urls, stored):
    imported, printed, asset = stored
    served = client.get(settings.MEDIA_URL + asset)
    assert served.status_code == 200 and b"".join(served.streaming_content) == b"public image stand-in"
    for private in (imported, printed):
        assert client.get(settings.MEDIA_URL + private).status_code == 404
        assert world.client_for("head_office").get(settings.MEDIA_URL + private).status_code == 404
