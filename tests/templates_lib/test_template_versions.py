"""Template versions: every problem of a draft is refused at save with its line; a published
version never changes; new versions start from the last one; who sees and who edits templates."""

import re
from types import SimpleNamespace

import pytest
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from local_stores.models import Node, NodeKind, Role
from local_stores.services import network_create, role_grant
from templates_lib import rendering, selectors, services
from templates_lib.models import Template, TemplateVersion, VersionStatus
from tests.factories import UserFactory

UNSUBSCRIBE = '<mj-text><a href="{{ system.unsubscribe_url }}">Se désinscrire</a></mj-text>'


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def author(db):
    """A network's head-office marketer: lighter than ``world`` for tests of one author's drafts."""
    network = network_create(name="Gamma", slug="gamma", head_office_name="Gamma HQ")
    user = UserFactory(username="gamma_head_office")
    role_grant(
        user=user,
        node=Node.objects.get(network=network, kind=NodeKind.HEAD_OFFICE),
        role=Role.HEAD_OFFICE_MARKETER,
    )
    return SimpleNamespace(network=network, user=user)


def new_draft(author, kind: str) -> TemplateVersion:
    template = services.template_create(
        network=author.network, kind=kind, name=f"T {kind}", created_by=author.user
    )
    return template.versions.get()


def refusal(author, kind: str, **fields) -> dict[str, list[str]]:
    draft = new_draft(author, kind)
    before = TemplateVersion.objects.get(pk=draft.pk)
    with pytest.raises(ValidationError) as caught:
        services.draft_update(version=draft, edited_by=author.user, **fields)
    after = TemplateVersion.objects.get(pk=draft.pk)
    assert (after.body, after.subject, after.css, after.slots) == (
        before.body,
        before.subject,
        before.css,
        before.slots,
    )
    return caught.value.message_dict


def mjml(*lines: str) -> str:
    return "\n".join(lines)


# --- 4. refused at save, with the line ----------------------------------------------------------


def test_the_starter_drafts_are_sound(author):
    for kind in ("email", "sms", "print"):
        assert services.version_check(new_draft(author, kind)) == {}


@pytest.mark.parametrize(
    ("body", "line"),
    [
        pytest.param(
            mjml(
                "<mjml>",
                "  <mj-body>",
                "    <mj-section>",
                "      <mj-column>",
                "        <mj-text>Bonjour</mj-column>",
                f"        {UNSUBSCRIBE}",
                "    </mj-section>",
                "  </mj-body>",
                "</mjml>",
            ),
            5,
            id="closing-tag-mismatch",
        ),
        pytest.param(
            mjml(
                "<mjml>",
                "  <mj-body>",
                "    <mj-section>",
                "      <mj-column>",
                f"        {UNSUBSCRIBE}",
                "      </mj-column>",
                "  </mj-body>",
                "</mjml>",
            ),
            None,
            id="unclosed-section",
        ),
        pytest.param(
            mjml(
                "<mjml>",
                "  <mj-body>",
                "    <mj-section>",
                "      <mj-column>",
                '        <mj-text font-size="20px>Titre</mj-text>',
                f"        {UNSUBSCRIBE}",
                "      </mj-column>",
                "    </mj-section>",
                "  </mj-body>",
                "</mjml>",
            ),
            5,
            id="unterminated-attribute",
        ),
        pytest.param(
            mjml("<mjml>", "  <mj-bodyy>", f"    {UNSUBSCRIBE}", "  </mj-bodyy>", "</mjml>"),
            2,
            id="unexpected-element",
        ),
    ],
)
def test_malformed_mjml_is_refused_with_its_line(author, body, line):
    # given an e-mail draft
    # when malformed MJML is saved
    errors = refusal(author, "email", body=body)
    # then the body is refused with a readable message giving the line of the problem
    message = " ".join(errors["body"])
    assert "MJML" in message
    assert re.search(r"line \d+", message), message
    if line is not None:
        assert f"line {line}" in message, message


@pytest.mark.parametrize(
    "include",
    [
        '<mj-include path="./header.mjml" />',
        '<MJ-INCLUDE path="/etc/passwd"/>',
        '< mj-include path="x.css" type="css" />',
    ],
)
def test_mj_include_is_refused(author, include):
    body = mjml(
        "<mjml>",
        "  <mj-body>",
        f"    {include}",
        "    <mj-section><mj-column>",
        f"      {UNSUBSCRIBE}",
        "    </mj-column></mj-section>",
        "  </mj-body>",
        "</mjml>",
    )
    errors = refusal(author, "email", body=body)
    assert "mj-include is not allowed" in " ".join(errors["body"])


def test_mjml_renderer_refuses_mj_include_too():
    with pytest.raises(rendering.RenderError):
        rendering.mjml_to_html('<mjml><mj-body><mj-include path="/etc/passwd" /></mj-body></mjml>')


STARTER_LINES = {
    "email": "<mjml>\n  <mj-body>\n    <mj-section>\n      <mj-column>\n        <mj-text>{{ system.unsubscribe_url }}</mj-text>\n",
    "sms": "{{ system.stop_mention }}\n",
    "print": "<h1>Titre</h1>\n",
}
EMAIL_END = "\n      </mj-column>\n    </mj-section>\n  </mj-body>\n</mjml>\n"


def with_problem_on_a_line(kind: str, problem: str) -> tuple[str, int]:
    """A sound source of ``kind`` with ``problem`` written on a known line."""
    head = STARTER_LINES[kind]
    line = head.count("\n") + 1
    if kind == "email":
        return head + f"        <mj-text>{problem}</mj-text>" + EMAIL_END, line
    return head + problem + "\n", line


@pytest.mark.parametrize("kind", ["email", "sms", "print"])
@pytest.mark.parametrize(
    ("problem", "says"),
    [
        ("{{ recipient.password }}", "unknown merge field"),
        ("{{ customer.email }}", "unknown merge field"),
        ("{{ slot.undeclared }}", "slot that is not declared"),
        ("{{ slot.headline.amount }}", "only a price slot has parts"),
        ("{% load static %}", "is not allowed"),
        ("{# note #}", "is not allowed"),
        ("{{ recipient.first_name|upper }}", "is not allowed"),
        ("{{ settings.SECRET_KEY }}", "is not allowed"),
        ("{{7*7}}", "is not allowed"),
    ],
)
def test_unknown_field_undeclared_slot_and_template_syntax_are_refused_with_their_line(
    author, kind, problem, says
):
    # given a source of this kind with one problem on a known line
    body, line = with_problem_on_a_line(kind, problem)
    # when the draft is saved
    errors = refusal(author, kind, body=body)
    # then the body is refused, the message giving that line and what is wrong
    messages = errors["body"]
    assert any(message.startswith(f"line {line}:") and says in message for message in messages), messages


@pytest.mark.parametrize(
    ("kind", "field", "value", "says"),
    [
        ("email", "subject", "Bonjour {{ recipient.pasword }}", "line 1: unknown merge field"),
        (
            "email",
            "preheader",
            "{{ slot.nope }}",
            "line 1: “{{ slot.nope }}” uses a slot that is not declared",
        ),
        ("email", "subject", "", "needs a subject"),
        ("print", "css", "h1 { color: red; }\nh2 { content: '{{ recipient.email }}'; }", "line 2:"),
        ("print", "print_format", "Letter", "print format"),
    ],
)
def test_other_fields_are_checked_too(author, kind, field, value, says):
    errors = refusal(author, kind, **{field: value})
    assert any(says in message for message in errors[field]), errors


def test_an_asset_field_must_name_an_image_of_the_library(author):
    body, line = with_problem_on_a_line("print", '<img src="{{ asset.ast_missing }}">')
    errors = refusal(author, "print", body=body)
    assert (
        f"line {line}: “{{{{ asset.ast_missing }}}}” is not an image of the asset library." in errors["body"]
    )


def test_sms_without_the_stop_mention_is_refused(author):
    errors = refusal(author, "sms", body="{{ branch.name }} : {{ slot.headline }} STOP au 36173")
    assert any("{{ system.stop_mention }}" in message for message in errors["body"])


def test_email_without_the_unsubscribe_link_is_refused(author):
    body = mjml(
        "<mjml>",
        "  <mj-body>",
        "    <mj-section><mj-column>",
        "      <mj-text>{{ slot.headline }}</mj-text>",
        "    </mj-column></mj-section>",
        "  </mj-body>",
        "</mjml>",
    )
    errors = refusal(author, "email", body=body)
    assert any("{{ system.unsubscribe_url }}" in message for message in errors["body"])


def test_unknown_fields_of_a_version_are_refused(author):
    draft = new_draft(author, "sms")
    with pytest.raises(ValidationError, match="status"):
        services.draft_update(version=draft, edited_by=author.user, status="published")
    assert not TemplateVersion.objects.get(pk=draft.pk).is_published


@pytest.mark.parametrize(
    ("slots_", "says"),
    [
        (
            [{"name": "headline", "type": "short_text"}, {"name": "headline", "type": "date"}],
            "two slots have this name",
        ),
        ([{"name": "headline", "type": "image"}], "type must be one of"),
        ([{"name": "Headline", "type": "short_text"}], "lowercase"),
    ],
)
def test_bad_slot_declarations_are_refused_at_save(author, slots_, says):
    errors = refusal(author, "sms", slots=slots_)
    assert any(says in message for message in errors["slots"]), errors


# --- 5. a published version never changes -------------------------------------------------------


@pytest.fixture
def published(author):
    """v1 of an e-mail template, published."""
    template = services.template_create(
        network=author.network, kind="email", name="Newsletter", created_by=author.user
    )
    return services.version_publish(version=template.versions.get(), published_by=author.user)


def test_publication_records_status_author_date_and_hash(author, published):
    v1 = TemplateVersion.objects.get(pk=published.pk)
    assert v1.status == VersionStatus.PUBLISHED
    assert v1.published_by == author.user
    assert v1.published_at is not None
    assert len(v1.content_hash) == 64
    assert v1.content_hash == v1.compute_hash()


def test_a_published_version_refuses_draft_update(author, published):
    before = TemplateVersion.objects.get(pk=published.pk)
    with pytest.raises(ValidationError, match="never changes"):
        services.draft_update(version=published, edited_by=author.user, subject="Changed")
    after = TemplateVersion.objects.get(pk=published.pk)
    assert (after.subject, after.body, after.content_hash) == (
        before.subject,
        before.body,
        before.content_hash,
    )


@pytest.mark.parametrize(
    "change",
    [
        {"body": "<mjml></mjml>"},
        {"subject": "Changed"},
        {"slots": []},
        {"status": VersionStatus.DRAFT},
        {"status": VersionStatus.DRAFT, "body": "x", "content_hash": ""},
    ],
)
def test_a_published_version_refuses_save(published, change):
    # given a published version loaded from the database
    version = TemplateVersion.objects.get(pk=published.pk)
    original = (version.body, version.subject, version.slots, version.content_hash)
    # when any change is saved, even one that claims it is a draft again
    for name, value in change.items():
        setattr(version, name, value)
    with pytest.raises(ValidationError):
        version.save()
    # then nothing changed and the hash still proves the content
    stored = TemplateVersion.objects.get(pk=published.pk)
    assert (stored.body, stored.subject, stored.slots, stored.content_hash) == original
    assert stored.is_published
    assert stored.content_hash == stored.compute_hash()


def test_a_published_version_cannot_be_deleted_or_republished(author, published):
    with pytest.raises(ValidationError):
        TemplateVersion.objects.get(pk=published.pk).delete()
    with pytest.raises(ValidationError, match="already published"):
        services.version_publish(version=published, published_by=author.user)
    assert TemplateVersion.objects.filter(pk=published.pk, status=VersionStatus.PUBLISHED).exists()


def test_a_new_version_copies_the_last_and_publishing_it_leaves_v1_unchanged(author, published):
    head_office = author.user
    template = published.template
    v1_before = TemplateVersion.objects.get(pk=published.pk)
    # when a new draft is started
    v2 = services.version_new_draft(template=template, created_by=head_office)
    # then it is v2, a draft copying v1's content
    assert (v2.number, v2.status) == (2, VersionStatus.DRAFT)
    assert (v2.subject, v2.preheader, v2.body, v2.css, v2.slots) == (
        v1_before.subject,
        v1_before.preheader,
        v1_before.body,
        v1_before.css,
        v1_before.slots,
    )
    assert v2.content_hash == ""
    # and asking again gives the same draft, not a v3
    assert services.version_new_draft(template=template, created_by=head_office).pk == v2.pk
    # when v2 is edited and published
    v2 = services.draft_update(version=v2, edited_by=head_office, subject="{{ slot.headline }} — v2")
    v2 = services.version_publish(version=v2, published_by=head_office)
    # then v1 is exactly as it was, v2 is the latest published, with its own hash
    v1_after = TemplateVersion.objects.get(pk=published.pk)
    for name in ("status", "subject", "body", "slots", "content_hash", "published_at", "published_by_id"):
        assert getattr(v1_after, name) == getattr(v1_before, name), name
    assert selectors.latest_published(template).pk == v2.pk
    assert TemplateVersion.objects.get(pk=v2.pk).content_hash == v2.compute_hash() != v1_after.content_hash
    assert list(template.versions.order_by("number").values_list("number", "status")) == [
        (1, "published"),
        (2, "published"),
    ]


# --- 9. scoping and permissions -----------------------------------------------------------------


@pytest.fixture
def library(world):
    """Alpha: a draft-only template, a published one, an archived published one, and a published
    one with a new draft; beta: a published one."""
    alpha, beta = world.networks["alpha"], world.networks["beta"]
    head_office, beta_office = world.users["head_office"], world.users["other_network_head_office"]

    def make(network, name, user, *, publish=False, archive=False, redraft=False):
        template = services.template_create(network=network, kind="sms", name=name, created_by=user)
        if publish:
            services.version_publish(version=template.versions.get(), published_by=user)
        if redraft:
            services.version_new_draft(template=template, created_by=user)
        if archive:
            services.template_set_archived(template=template, archived=True, changed_by=user)
        return template

    return {
        "draft": make(alpha, "Alpha draft", head_office),
        "published": make(alpha, "Alpha published", head_office, publish=True),
        "archived": make(alpha, "Alpha archived", head_office, publish=True, archive=True),
        "redrafted": make(alpha, "Alpha redrafted", head_office, publish=True, redraft=True),
        "beta": make(beta, "Beta published", beta_office, publish=True),
    }


ALPHA_ALL = {"Alpha draft", "Alpha published", "Alpha archived", "Alpha redrafted"}
ALPHA_LIVE = {"Alpha published", "Alpha redrafted"}


@pytest.mark.parametrize(
    ("actor", "visible"),
    [
        ("head_office", ALPHA_ALL),
        ("branch_manager", ALPHA_LIVE),
        ("regional_manager", ALPHA_LIVE),
        ("other_network_head_office", {"Beta published"}),
        ("nobody", set()),
    ],
)
def test_templates_visible_to(world, library, actor, visible):
    names = set(selectors.templates_visible_to(world.users[actor]).values_list("name", flat=True))
    assert names == visible


def test_branch_manager_sees_only_published_versions(world, library):
    branch_manager = world.users["branch_manager"]
    template = library["redrafted"]
    draft = selectors.current_draft(template)
    assert [v.number for v in selectors.versions_visible_to(branch_manager, template)] == [1]
    assert [v.number for v in selectors.versions_visible_to(world.users["head_office"], template)] == [2, 1]
    with pytest.raises(Http404):
        selectors.version_get(fetched_by=branch_manager, public_id=draft.public_id)
    for key in ("draft", "archived", "beta"):
        with pytest.raises(Http404):
            selectors.template_get(fetched_by=branch_manager, public_id=library[key].public_id)


def test_other_network_head_office_cannot_reach_alpha(world, library):
    beta_office = world.users["other_network_head_office"]
    for key in ("draft", "published", "archived", "redrafted"):
        with pytest.raises(Http404):
            selectors.template_get(fetched_by=beta_office, public_id=library[key].public_id)
    published_v1 = library["published"].versions.get()
    with pytest.raises(Http404):
        selectors.version_get(fetched_by=beta_office, public_id=published_v1.public_id)


@pytest.mark.parametrize(
    "actor", ["branch_manager", "regional_manager", "approver", "other_network_head_office"]
)
def test_only_alpha_head_office_writes_alpha_templates(world, library, actor):
    # given someone who does not manage alpha's templates
    user = world.users[actor]
    draft = library["draft"].versions.get()
    redraft = selectors.current_draft(library["redrafted"])
    published = library["published"]
    templates_before = Template.objects.count()
    # when they try any write, each is refused
    writes = {
        "create": lambda: services.template_create(
            network=world.networks["alpha"], kind="sms", name="X", created_by=user
        ),
        "edit": lambda: services.draft_update(
            version=draft, edited_by=user, body="{{ system.stop_mention }} hack"
        ),
        "publish": lambda: services.version_publish(version=redraft, published_by=user),
        "new version": lambda: services.version_new_draft(template=published, created_by=user),
        "archive": lambda: services.template_set_archived(template=published, archived=True, changed_by=user),
    }
    refused = []
    for name, write in writes.items():
        try:
            write()
        except PermissionDenied:
            refused.append(name)
    assert refused == list(writes)
    # and nothing changed
    assert Template.objects.count() == templates_before
    assert TemplateVersion.objects.get(pk=draft.pk).body == draft.body
    assert not TemplateVersion.objects.get(pk=redraft.pk).is_published
    assert published.versions.count() == 1
    assert not Template.objects.get(pk=published.pk).is_archived


def test_beta_head_office_manages_beta_only(world, library):
    beta_office = world.users["other_network_head_office"]
    template = services.template_create(
        network=world.networks["beta"], kind="sms", name="Beta 2", created_by=beta_office
    )
    services.version_publish(version=template.versions.get(), published_by=beta_office)
    assert selectors.templates_visible_to(beta_office).filter(pk=template.pk).exists()
    assert not selectors.templates_visible_to(world.users["head_office"]).filter(pk=template.pk).exists()
