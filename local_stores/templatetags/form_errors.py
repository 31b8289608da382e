"""The error summary at the top of a form that failed (config/templates/_form_errors.html).

``{% load form_errors %}{% form_errors form %}`` — or several forms and formsets posted together,
``{% form_errors editor.slots editor.date editor.target %}`` — renders nothing while the forms hold
no error, and otherwise one alert listing every problem: the errors about the whole form first,
then each field's, as "label: message" linking to the field's control. config/static/relais/forms.js
focuses the summary when the page (or an htmx swap) brings one and moves the focus to a field when
its link is followed. The fields themselves carry ``aria-invalid`` and ``aria-describedby`` to
their message (Django adds both; config/templates/_form_fields.html and central/_field.html give
the message the id Django points to, ``<auto_id>_error``).
"""

from dataclasses import dataclass

from django import template

register = template.Library()


@dataclass(frozen=True)
class Problem:
    message: str
    label: str = ""
    target: str = ""  # the id of the control to jump to; "" for a problem with the whole form


def _target(field) -> str:
    """The id of the field's first control: radio buttons and checkbox lists have no control of
    their own (``id_for_label`` is empty), the first choice is ``<auto_id>_0``."""
    if field.is_hidden or not field.auto_id:
        return ""
    return field.id_for_label or f"{field.auto_id}_0"


def problems(*forms) -> list[Problem]:
    """Every error of ``forms`` (forms or formsets; None is skipped), in the order of the page."""
    found: list[Problem] = []
    for form in forms:
        if form is None or not getattr(form, "is_bound", False):
            continue
        if hasattr(form, "non_form_errors"):  # a formset
            found += [Problem(str(message)) for message in form.non_form_errors()]
            found += problems(*form.forms)
            continue
        found += [Problem(str(message)) for message in form.non_field_errors()]
        for field in form:
            found += [Problem(str(message), str(field.label or ""), _target(field)) for message in field.errors]
    return found


@register.inclusion_tag("_form_errors.html")
def form_errors(*forms, id: str = "form-errors", also=(), also_label: str = "", also_target: str = "") -> dict:
    """``also``: messages a page keeps beside its form's errors (e.g. a policy's steps, checked as a
    whole), listed last, under ``also_label`` and linking to ``also_target`` when given."""
    extra = [Problem(str(message), str(also_label), also_target) for message in also or ()]
    return {"problems": problems(*forms) + extra, "summary_id": id}
