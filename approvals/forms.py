"""Forms of the approval pages. They only shape what was typed: the rules (who may decide, what a
decision needs, what a policy may say) are checked by ``approvals.services`` and
``approvals.policies``, whose field errors are put back next to the fields (``errors_to_form``)."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from approvals.models import ChangeLevel, Origin, StepLevel, Verdict
from central.models import Channel
from local_stores.forms import style_fields
from local_stores.line_breaks import LineBreaksFormMixin
from local_stores.models import Role

#: A policy has at most this many steps on the page.
STEP_ROWS = 3
STEP_ROLES = [(Role.REGIONAL_MANAGER.value, Role.REGIONAL_MANAGER.label), (Role.APPROVER.value, Role.APPROVER.label)]


def errors_to_form(form: forms.BaseForm, error: ValidationError) -> None:
    """Put a service's ValidationError on ``form``: by field where the form has it (a slot's comment
    is the field ``slot__<name>``; a policy's steps are grouped), else on top of the form."""
    if not hasattr(error, "error_dict"):
        for message in error.messages:
            form.add_error(None, message)
        return
    for field, messages in error.message_dict.items():
        if field in form.fields or field in getattr(form, "grouped_errors", ()):
            target = field
        elif f"slot__{field}" in form.fields:
            target = f"slot__{field}"
        else:
            target = None
        for message in messages:
            form.add_error(target, message)


class DecisionForm(LineBreaksFormMixin, forms.Form):
    """Approve, reject or request changes, with a general comment and one comment per slot."""

    verdict = forms.ChoiceField(label=_("Your decision"), choices=Verdict.choices, widget=forms.RadioSelect)
    comment = forms.CharField(
        label=_("Comment"), required=False, max_length=4000, widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Needed to reject or to request changes (here or on a slot below)."))

    def __init__(self, *args, slot_labels: dict[str, str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.slot_names = list(slot_labels)
        for name, label in slot_labels.items():
            self.fields[f"slot__{name}"] = forms.CharField(
                label=_("About “%(slot)s”") % {"slot": label}, required=False, max_length=2000,
                widget=forms.Textarea(attrs={"rows": 1}))
        style_fields(self)

    def slot_fields(self):
        return [self[f"slot__{name}"] for name in self.slot_names]

    def slot_comments(self) -> dict[str, str]:
        return {name: self.cleaned_data.get(f"slot__{name}", "") for name in self.slot_names}


class RevokeForm(LineBreaksFormMixin, forms.Form):
    reason = forms.CharField(label=_("Why is the approval revoked?"), max_length=2000,
                             widget=forms.Textarea(attrs={"rows": 2}), required=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        style_fields(self)


def _any(choices) -> list[tuple[str, str]]:
    return [("", _("Any")), *((value, label) for value, label in choices)]


class PolicyForm(forms.Form):
    """A policy: what it matches (empty = any) and up to three steps, in order."""

    grouped_errors = ("steps",)

    name = forms.CharField(label=_("Name"), max_length=120, required=False)
    position = forms.IntegerField(label=_("Position"), min_value=0, initial=0,
                                  help_text=_("The first active policy that matches applies, smallest position first."))
    channel = forms.ChoiceField(label=_("Channel"), choices=_any(Channel.choices), required=False)
    origin = forms.ChoiceField(label=_("Origin"), choices=_any(Origin.choices), required=False)
    changes = forms.ChoiceField(label=_("What the branch changed"), choices=_any(ChangeLevel.choices), required=False,
                                help_text=_("Matches exactly this level of change."))
    print_without_head_office = forms.BooleanField(
        label=_("Print may go without a head-office step"), required=False,
        help_text=_("Unless this is ticked, a print campaign always gets a head-office approver step."))
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.steps_errors: list[str] = []
        for row in range(1, STEP_ROWS + 1):
            self.fields[f"step{row}_level"] = forms.ChoiceField(
                label=_("Step %(n)s: who") % {"n": row}, required=False,
                choices=[("", "—"), *StepLevel.choices])
            self.fields[f"step{row}_role"] = forms.ChoiceField(
                label=_("Step %(n)s: role") % {"n": row}, required=False, choices=[("", "—"), *STEP_ROLES])
            self.fields[f"step{row}_quorum"] = forms.IntegerField(
                label=_("Step %(n)s: approvals needed") % {"n": row}, required=False,
                widget=forms.NumberInput(attrs={"min": 1, "max": 5}))
        style_fields(self)

    @classmethod
    def initial_for(cls, policy) -> dict[str, object]:
        initial: dict[str, object] = {
            "name": policy.name, "position": policy.position, "channel": policy.channel, "origin": policy.origin,
            "changes": policy.changes, "print_without_head_office": policy.print_without_head_office,
            "is_active": policy.is_active,
        }
        for row, step in enumerate(policy.steps[:STEP_ROWS], start=1):
            initial |= {f"step{row}_level": step.get("level", ""), f"step{row}_role": step.get("role", ""),
                        f"step{row}_quorum": step.get("quorum", 1)}
        return initial

    def main_fields(self):
        return [field for field in self.visible_fields() if not field.name.startswith("step")]

    def step_rows(self):
        return [(row, self[f"step{row}_level"], self[f"step{row}_role"], self[f"step{row}_quorum"])
                for row in range(1, STEP_ROWS + 1)]

    def add_error(self, field, error) -> None:
        # The service reports the steps as one field: keep its messages together above the rows.
        if field == "steps":
            self.steps_errors.extend(error.messages if isinstance(error, ValidationError) else [str(error)])
            return
        super().add_error(field, error)

    def policy_fields(self) -> dict[str, object]:
        """What ``policy_save`` takes: the typed rows that hold anything become the steps."""
        data = self.cleaned_data
        steps = []
        for row in range(1, STEP_ROWS + 1):
            level, role, quorum = data.get(f"step{row}_level"), data.get(f"step{row}_role"), data.get(f"step{row}_quorum")
            if level or role or quorum:
                steps.append({"level": level or "", "role": role or "", "quorum": quorum if quorum is not None else 1})
        return {
            "name": (data.get("name") or "").strip(), "position": data.get("position") or 0,
            "channel": data.get("channel") or "", "origin": data.get("origin") or "",
            "changes": data.get("changes") or "", "steps": steps,
            "print_without_head_office": bool(data.get("print_without_head_office")),
            "is_active": bool(data.get("is_active")),
        }
