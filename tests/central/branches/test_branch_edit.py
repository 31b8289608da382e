"""Branch details used in messages: the branch edits its contact details, the head office also its identity."""

import io

import pytest
from django.core.exceptions import PermissionDenied
from PIL import Image

from local_stores.models import Node
from local_stores.services import node_update

pytestmark = pytest.mark.django_db

CONTACT = {
    "phone": "03 20 00 00 00",
    "email": "lille@example.test",
    "opening_hours": "Mardi–samedi 9h–19h",
    "manager_signature": "Anne, votre conseillère",
    "website_url": "https://example.test/lille",
    "facebook_url": "",
    "instagram_url": "",
}


def edit_url(world, code: str) -> str:
    return f"/network/branches/{world.nodes[code].public_id}/edit/"


def test_branch_manager_edits_the_details_of_their_branch(world):
    client = world.client_for("branch_manager")
    response = client.post(edit_url(world, "N1"), CONTACT)
    assert response.status_code == 302
    branch = Node.objects.get(code="N1")
    assert branch.opening_hours == "Mardi–samedi 9h–19h"
    assert branch.manager_signature == "Anne, votre conseillère"


def test_branch_manager_cannot_rename_their_branch(world):
    client = world.client_for("branch_manager")
    client.post(edit_url(world, "N1"), {**CONTACT, "name": "Renamed"})
    assert Node.objects.get(code="N1").name == "Lille"
    with pytest.raises(PermissionDenied):
        node_update(node=world.nodes["N1"], edited_by=world.users["branch_manager"], data={"name": "Renamed"})


def test_head_office_edits_identity_too(world):
    client = world.client_for("head_office")
    response = client.post(
        edit_url(world, "N1"), {**CONTACT, "name": "Lille Centre", "city": "Lille", "is_active": "on"}
    )
    assert response.status_code == 302
    assert Node.objects.get(code="N1").name == "Lille Centre"


@pytest.mark.parametrize(
    ("actor", "code"),
    [
        ("sibling_branch_manager", "N1"),
        ("other_network_head_office", "N1"),
        ("regional_manager", "N1"),
        ("approver", "N1"),
        ("analyst", "N1"),
        ("branch_manager", "W1"),
    ],
)
def test_others_get_404_and_change_nothing(world, actor, code):
    client = world.client_for(actor)
    assert client.get(edit_url(world, code)).status_code == 404
    assert client.post(edit_url(world, code), CONTACT).status_code == 404
    assert Node.objects.get(pk=world.nodes[code].pk).opening_hours == ""


def test_bad_values_are_form_errors(world):
    client = world.client_for("branch_manager")
    response = client.post(
        edit_url(world, "N1"), {**CONTACT, "website_url": "javascript:alert(1)", "email": "nope"}
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "Enter a valid URL." in body and "Enter a valid email address." in body
    assert Node.objects.get(code="N1").website_url == ""


def image_upload(size: tuple[int, int], image_format: str = "PNG", name: str = "logo.png"):
    buffer = io.BytesIO()
    Image.new("RGB", size, "white").save(buffer, image_format)
    buffer.seek(0)
    buffer.name = name
    return buffer


def test_logo_is_validated(world, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    client = world.client_for("branch_manager")
    too_big = client.post(edit_url(world, "N1"), {**CONTACT, "logo": image_upload((2500, 100))})
    assert "at most 2000 pixels" in too_big.content.decode()
    wrong_kind = client.post(
        edit_url(world, "N1"), {**CONTACT, "logo": image_upload((10, 10), "GIF", "logo.gif")}
    )
    assert "PNG, JPEG or WebP" in wrong_kind.content.decode()
    not_an_image = io.BytesIO(b"<svg onload=alert(1)>")
    not_an_image.name = "logo.png"
    assert client.post(edit_url(world, "N1"), {**CONTACT, "logo": not_an_image}).status_code == 200
    assert not Node.objects.get(code="N1").logo
    good = client.post(edit_url(world, "N1"), {**CONTACT, "logo": image_upload((300, 120))})
    assert good.status_code == 302
    assert Node.objects.get(code="N1").logo.name.startswith("logos/")
