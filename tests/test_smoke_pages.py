import pytest

pytestmark = pytest.mark.django_db


def test_branch_manager_home_and_customer_pages_render(world):
    client = world.client_for("branch_manager")
    assert client.get("/").status_code == 200
    response = client.get("/customers/")
    assert response.status_code == 200
    assert "Anne" in response.content.decode()
    assert "Bruno" not in response.content.decode()
