"""Production refuses to start without its secrets; the OpenAPI schema and its docs are served."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_check(*, fail_level: str = "CRITICAL", **env: str) -> subprocess.CompletedProcess:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key
        not in {
            "SECRET_KEY",
            "DATABASE_URL",
            "CELERY_BROKER_URL",
            "EMAIL_URL",
            "ALLOWED_HOSTS",
            "DJANGO_SETTINGS_MODULE",
        }
    }
    environment.update(env)
    return subprocess.run(  # noqa: S603 (fixed arguments: this interpreter, manage.py, a level from the tests)
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", fail_level],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


PRODUCTION = {
    "RELAIS_MODE": "production",
    "SECRET_KEY": "x" * 60,
    "ALLOWED_HOSTS": "relais.example.com",
    "DATABASE_URL": "postgres://relais@127.0.0.1:5432/relais",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
    "EMAIL_URL": "smtp://127.0.0.1:25",
    "RELAIS_SECRET_KEYS": "9S-0KoeLZsF8h2FfwE3zFtuFfSYL-ib01sXlhe_M4Ok=",
}


@pytest.mark.parametrize(
    "missing", ["SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL", "EMAIL_URL", "ALLOWED_HOSTS", "RELAIS_SECRET_KEYS"]
)
def test_production_refuses_to_start_without_its_settings(missing):
    settings = {key: value for key, value in PRODUCTION.items() if key != missing}
    result = run_check(**settings)
    assert result.returncode != 0
    assert missing in result.stderr


def test_production_starts_with_its_settings():
    result = run_check(**PRODUCTION)
    assert result.returncode == 0, result.stderr


def test_the_deployment_checklist_is_clean_for_the_production_settings():
    """``manage.py check --deploy``: no warning (HTTPS redirect, HSTS, secure cookies…) — only the
    HSTS preload check is silenced, the preload list being the domain owner's decision."""
    result = run_check(fail_level="WARNING", **{**PRODUCTION, "SECRET_KEY": "k7Jq-2xPz9_Lm4VbN8wR3tYc6HdS1fGa0eUoQiZy5Tr8WnB2vXe4Ks"})
    assert result.returncode == 0, result.stderr + result.stdout
    assert "System check identified no issues (1 silenced)." in result.stdout


def test_an_unknown_mode_is_refused():
    result = run_check(RELAIS_MODE="staging")
    assert result.returncode != 0
    assert "RELAIS_MODE" in result.stderr


@pytest.mark.django_db
def test_openapi_schema_lists_the_scoped_endpoints(world):
    response = world.client_for("head_office").get(
        "/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json"
    )
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in (
        "/api/v1/branches/",
        "/api/v1/branches/{public_id}/",
        "/api/v1/customers/",
        "/api/v1/customers/{public_id}/",
        "/api/v1/customer-imports/",
    ):
        assert path in paths
    assert {"q", "branch", "reachable_by"} <= {
        p["name"] for p in paths["/api/v1/customers/"]["get"]["parameters"]
    }


@pytest.mark.django_db
def test_interactive_api_docs_are_served_without_a_cdn(world):
    body = world.client_for("head_office").get("/api/docs/").content.decode()
    assert "swagger-ui" in body
    assert "cdn." not in body and "unpkg.com" not in body and "jsdelivr" not in body


@pytest.mark.django_db
def test_pages_load_css_and_htmx_from_our_static_files(world):
    body = world.client_for("branch_manager").get("/").content.decode()
    assert "/static/bootstrap/css/bootstrap.min.css" in body
    assert "/static/django_htmx/htmx" in body
    assert "http://" not in body.split("<body")[0] and "https://" not in body.split("<body")[0]


def test_openapi_schema_generates_without_warnings(tmp_path):
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert "/api/v1/templates/" in (tmp_path / "schema.yaml").read_text()
