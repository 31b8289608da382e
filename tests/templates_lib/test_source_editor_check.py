"""The template draft's live check, server side (issue 19, defect 14), posted as chromium posts the
draft form (every field, CRLF line breaks): a sound draft answers its preview and an empty list of
problems; a broken one answers only the problems, each with its line, swapped out of band, and
tells htmx to swap nothing else so that the last good preview stays. The browser side is in
tests/in_browser/test_browser_unsaved.py."""

from __future__ import annotations

import html
import json

import pytest

from tests.architecture.test_crlf_forms import URLENCODED, as_browser_posts, demo, form_fields, new_draft  # noqa: F401

pytestmark = pytest.mark.django_db

BROKEN = '<mj-text color="red>Soldes</mj-text>'  # a quote left open


def check(client, draft, fields):
    return client.post(f"/templates/versions/{draft.public_id}/preview/", as_browser_posts(fields),
                       content_type=URLENCODED, HTTP_HX_REQUEST="true")


def error_lines(body: str) -> dict:
    start = body.index('data-error-lines="') + len('data-error-lines="')
    return json.loads(html.unescape(body[start:body.index('"', start)]))


def test_a_sound_draft_answers_its_preview_and_no_problem(world, demo):  # noqa: F811
    client = world.client_for("head_office")
    draft = new_draft(client, demo["newsletter"])
    fields = form_fields(client.get(f"/templates/versions/{draft.public_id}/edit/").content.decode(), "id", "draft-form")

    response = check(client, draft, fields)

    body = response.content.decode()
    assert response.status_code == 200 and "HX-Reswap" not in response
    assert 'id="preview"' in body and "Découvrir la sélection" in body
    assert 'id="draft-check" hx-swap-oob="true"' in body and error_lines(body) == {}


def test_a_broken_line_answers_the_problem_with_its_line_and_keeps_the_preview(world, demo):  # noqa: F811
    client = world.client_for("head_office")
    draft = new_draft(client, demo["newsletter"])
    fields = form_fields(client.get(f"/templates/versions/{draft.public_id}/edit/").content.decode(), "id", "draft-form")
    lines = dict(fields)["body"].split("\n")
    broken = "\n".join([*lines[:14], BROKEN, *lines[14:]])  # the new line 15
    fields = [(name, broken if name == "body" else value) for name, value in fields]

    response = check(client, draft, fields)

    body = response.content.decode()
    assert response.status_code == 200 and response["HX-Reswap"] == "none"  # the preview is left as it was
    assert 'id="preview"' not in body
    assert 'id="draft-check" hx-swap-oob="true"' in body
    assert error_lines(body) == {"body": [15]}
    assert "line 15" in body and 'data-source-line="15"' in body and "Go to line 15" in body
    draft.refresh_from_db()
    assert BROKEN not in draft.body  # a check saves nothing
