"""Visual editor, saving: the document is saved as the draft's MJML (one source of truth), a
problem saves nothing and is shown on its block or field, the preview writes nothing."""

from __future__ import annotations

import copy

import pytest
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test.utils import CaptureQueriesContext

from fixtures.demo_templates import load_demo_templates
from templates_lib import services
from templates_lib.blocks import saving
from templates_lib.blocks.document import normalise
from templates_lib.blocks.from_mjml import parse
from templates_lib.blocks.to_mjml import to_mjml
from templates_lib.models import TemplateVersion

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def draft(world):
    published = load_demo_templates(network=world.networks["alpha"], author=world.users["head_office"])["newsletter"]
    return services.version_new_draft(template=published.template, created_by=world.users["head_office"])


def snapshot(version):
    version = TemplateVersion.objects.get(pk=version.pk)
    return version.body, version.subject, version.preheader, version.slots, version.content_hash


def save(draft, world, document, **fields):
    values = {"slots": draft.slots, "subject": draft.subject, "preheader": draft.preheader} | fields
    return saving.save_document(version=draft, document=document, edited_by=world.users["head_office"], **values)


def test_document_for_reads_the_draft(draft):
    result = saving.document_for(draft)
    assert result.problems == [] and result.document == parse(draft.body).document


def test_saving_writes_the_mjml_as_the_versions_body(draft, world):
    document = saving.document_for(draft).document
    document["sections"][1]["columns"][0]["blocks"][2]["html"] = "Bonjour <b>{{ recipient.first_name }}</b> !"
    saved = save(draft, world, document, subject="Nouveau : {{ slot.headline }}", preheader="Les vins")
    stored = TemplateVersion.objects.get(pk=draft.pk)
    assert stored.body == saved.body == to_mjml(normalise(document)).source
    assert "<b>{{ recipient.first_name }}</b>" in stored.body
    assert (stored.subject, stored.preheader) == ("Nouveau : {{ slot.headline }}", "Les vins")
    assert saving.document_for(stored).document == normalise(document)  # editor → MJML → editor


def test_a_block_problem_saves_nothing(draft, world):
    before = snapshot(draft)
    document = saving.document_for(draft).document
    document["sections"][1]["columns"][0]["blocks"][5]["href"] = "https://evil.example/"
    document["sections"][0]["columns"][0]["blocks"][0]["alt"] = ""
    with pytest.raises(saving.BlockErrors) as caught:
        save(draft, world, document, subject="")
    assert set(caught.value.by_block) == {"s1c1b1", "s2c1b6"}
    assert "evil.example" in caught.value.by_block["s2c1b6"][0]
    assert set(caught.value.by_field) == {"subject"}
    assert snapshot(draft) == before


def test_structure_and_slot_problems_save_nothing(draft, world):
    before = snapshot(draft)
    with pytest.raises(saving.BlockErrors) as caught:
        save(draft, world, {"settings": {}, "sections": [{"id": "x", "type": "section", "columns": []}]})
    assert "x" in caught.value.by_block
    document = saving.document_for(draft).document
    with pytest.raises(saving.BlockErrors) as caught:
        save(draft, world, document, slots=[{"name": "Bad Name", "type": "nope"}])
    assert "slots" in caught.value.by_field
    assert caught.value.by_block  # the slots the blocks use are no longer declared
    assert snapshot(draft) == before


def test_only_a_manager_of_the_network_saves(draft, world):
    document = saving.document_for(draft).document
    with pytest.raises(PermissionDenied):
        saving.save_document(version=draft, document=document, slots=draft.slots, subject=draft.subject,
                             preheader="", edited_by=world.users["other_network_head_office"])


def test_a_published_version_never_changes(world):
    published = load_demo_templates(network=world.networks["alpha"], author=world.users["head_office"])["invitation"]
    with pytest.raises(saving.BlockErrors) as caught:
        save(published, world, saving.document_for(published).document)
    assert "published" in caught.value.by_block["document"][0]


def test_the_preview_renders_and_writes_nothing(draft):
    document = saving.document_for(draft).document
    document["sections"][1]["columns"][0]["blocks"][2]["html"] = "Aperçu {{ recipient.first_name }}"
    before = snapshot(draft)
    with CaptureQueriesContext(connection) as queries:
        result = saving.preview_document(version=draft, document=document, slots=draft.slots,
                                         subject=draft.subject, preheader="")
    writes = [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))]
    assert writes == []
    assert result.errors == {} and result.html and "Aperçu" in result.html
    assert "la foire aux vins commence" in result.html  # the slots' default values
    assert snapshot(draft) == before


def test_the_preview_names_the_problems(draft):
    document = copy.deepcopy(saving.document_for(draft).document)
    document["sections"][1]["columns"][0]["blocks"][1]["text"] = "{{ slot.unknown }}"
    result = saving.preview_document(version=draft, document=document, slots=draft.slots, subject="", preheader="")
    assert result.html is None
    assert "s2c1b2" in result.by_block and "subject" in result.by_field
    assert set(result.errors) == {"s2c1b2", "subject"}
