"""The expert's source view obeys the visual editor's rules (issue 20): a hand-written MJML source
may not carry script, event handlers, ``javascript:`` links, images from outside the asset library
or fonts and style sheets from another server — refused when the draft is saved, with the line."""

import pytest
from django.core.exceptions import ValidationError

from fixtures.demo_templates import NEWSLETTER
from templates_lib import services
from templates_lib.source_scan import email_source_problems
from tests.templates_lib.test_template_versions import author, new_draft  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db

BODY = """<mjml>
  <mj-body>
    <mj-section><mj-column>
      {}
      <mj-text><a href="{{{{ system.unsubscribe_url }}}}">Se désinscrire</a></mj-text>
    </mj-column></mj-section>
  </mj-body>
</mjml>"""


@pytest.mark.parametrize(
    ("fragment", "words"),
    [
        ('<mj-image src="https://tracker.example/pixel.png" alt="x" />', "not from the asset library"),
        ('<mj-image src="http://169.254.169.254/latest/meta-data/" alt="x" />', "not from the asset library"),
        ('<mj-section background-url="https://cdn.example/bg.png"></mj-section>', "not from the asset library"),
        ('<mj-text><img src="https://cdn.example/a.png" alt=""></mj-text>', "not from the asset library"),
        ('<mj-text><script>alert(1)</script></mj-text>', "<script> is not allowed"),
        ('<mj-text><a href="javascript:alert(1)">x</a></mj-text>', "javascript:"),
        ('<mj-button href=" JavaScript:alert(1)">x</mj-button>', "javascript:"),
        ('<mj-text><p onclick="alert(1)">x</p></mj-text>', "onclick"),
        ('<mj-text><p style="background:url(https://x.example/a.png)">x</p></mj-text>', "another server"),
        ('<mj-text><iframe src="https://x.example"></iframe></mj-text>', "<iframe> is not allowed"),
    ],
)
def test_a_dangerous_source_is_named_with_its_line(fragment, words):
    problems = email_source_problems(BODY.format(fragment), fonts={})
    assert problems, fragment
    assert any(words in problem.message for problem in problems), [p.message for p in problems]
    assert all(problem.line == 4 for problem in problems)


def test_head_fonts_and_styles_from_another_server_are_refused():
    source = """<mjml>
  <mj-head>
    <mj-font name="Roboto" href="https://fonts.googleapis.com/css?family=Roboto" />
    <mj-style>@import url(https://x.example/a.css); .a { color: red; }</mj-style>
  </mj-head>
  <mj-body></mj-body>
</mjml>"""
    problems = email_source_problems(source, fonts={})
    assert [problem.line for problem in problems] == [3, 4]
    assert "not one uploaded for this network" in problems[0].message
    assert "another server" in problems[1].message
    own = {"/media/assets/fonts/2026/12/marque.css": "Marque"}
    ok = '<mjml><mj-head><mj-font name="Marque" href="/media/assets/fonts/2026/12/marque.css" /></mj-head></mjml>'
    assert email_source_problems(ok, fonts=own) == []
    renamed = ok.replace('name="Marque"', 'name="Autre"')
    assert email_source_problems(renamed, fonts=own)


def test_the_demo_newsletter_passes():
    assert email_source_problems(NEWSLETTER.replace("asset.LOGO", "asset.ast_x"), fonts={}) == []


def test_saving_a_source_with_an_outside_image_is_refused_with_its_line(author):  # noqa: F811
    draft = new_draft(author, "email")
    body = BODY.format('<mj-image src="https://tracker.example/p.png" alt="x" />')
    with pytest.raises(ValidationError) as refused:
        services.draft_update(version=draft, edited_by=author.user, body=body, slots=[])
    messages = refused.value.message_dict["body"]
    assert any(message.startswith("line 4:") and "asset library" in message for message in messages), messages
    draft.refresh_from_db()
    assert "tracker.example" not in draft.body
