"""The campaign page's checklist: content, target, date, approval, schedule — each done or not, with
one primary action at the end, the next thing to do (issue 19, defect 5).

Built from what the editor already computed for the page (the live problems of what is typed, the
audience count) and the campaign's display state (central/campaigns/states.py); reads nothing more."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from central.campaigns.selectors import campaign_can_edit
from central.campaigns.states import CampaignState, StateKey, campaign_states
from central.identity.selectors import identity_problem

DONE, TO_DO, WAITING, BLOCKED = "done", "todo", "waiting", "blocked"

_APPROVED_OR_LATER = (StateKey.APPROVED, StateKey.SCHEDULED, StateKey.SENDING, StateKey.PAUSED, StateKey.SENT)
_SCHEDULED_OR_LATER = (StateKey.SCHEDULED, StateKey.SENDING, StateKey.PAUSED, StateKey.SENT)


@dataclass(frozen=True)
class Item:
    key: str
    title: str
    status: str  # DONE, TO_DO, WAITING or BLOCKED
    detail: str = ""


@dataclass(frozen=True)
class Action:
    """The next thing to do: a button posting to ``url`` (``form``: with the editor's fields), or a link."""

    label: str
    url: str
    post: bool = False
    with_fields: bool = False  # submits the campaign form's fields (what is typed is what is approved)
    testid: str = ""


@dataclass(frozen=True)
class Checklist:
    items: list[Item]
    action: Action | None
    note: str = ""


def campaign_checklist(*, campaign, state: CampaignState, live: dict, can_edit: bool, editable: bool,
                       sender_problem: str | None = None) -> Checklist | None:
    """The checklist of ``campaign`` as the acting user may act on it (``can_edit``: may change its
    branch; ``editable``: may change it now; ``sender_problem``: why its network cannot send on its
    channel, ``central.identity.selectors.identity_problem``). None for a cancelled campaign."""
    if state.key == StateKey.CANCELLED:
        return None
    content_problems = list(live.get("problems") or [])
    date_problems = list(live.get("date_problems") or [])
    count = live.get("audience_count")
    items = [
        Item("content", _("Content"), BLOCKED if content_problems else DONE,
             content_problems[0] if content_problems else
             (_("The approvers asked for changes: see their comment.")
              if state.key == StateKey.CHANGES_REQUESTED else "")),
        Item("target", _("Target"), BLOCKED if count == 0 else DONE,
             _("No customer of yours matches the target.") if count == 0 else
             (ngettext("%(count)d customer", "%(count)d customers", count) % {"count": count}
              if count is not None else "")),
        Item("date", _("Date"), BLOCKED if date_problems else DONE,
             date_problems[0] if date_problems else ""),
    ]
    if state.key in _APPROVED_OR_LATER:
        items.append(Item("approval", _("Approval"), DONE, state.label if state.key == StateKey.APPROVED else ""))
    elif state.key == StateKey.AWAITING:
        items.append(Item("approval", _("Approval"), WAITING, state.label))
    else:
        items.append(Item("approval", _("Approval"), TO_DO, state.label))
    if sender_problem:
        items.append(Item("sender", _("Sender"), BLOCKED, sender_problem))
    if state.key in _SCHEDULED_OR_LATER:
        items.append(Item("schedule", _("Schedule"), DONE, state.label))
    else:
        items.append(Item("schedule", _("Schedule"), TO_DO if state.key == StateKey.APPROVED else WAITING, ""))

    action, note = None, ""
    blocked = [item for item in items if item.status == BLOCKED]
    if state.key in (StateKey.DRAFT, StateKey.CHANGES_REQUESTED):
        if not (can_edit and editable):
            note = _("Only the branch may finish it and request approval.") if not can_edit else \
                _("The deadline to change it has passed.")
        elif blocked:
            action = Action(_("Correct: %(what)s") % {"what": blocked[0].title.lower()}, "#campaign-form")
        else:
            label = _("Request approval again") if state.key == StateKey.CHANGES_REQUESTED else _("Request approval")
            action = Action(label, reverse("campaigns:campaign-request-approval", args=[campaign.public_id]),
                            post=True, with_fields=True, testid="checklist-request-approval")
    elif state.key == StateKey.AWAITING:
        note = _("Nothing to do: the approvers decide.")
        if state.proof is not None:
            action = Action(_("See the proof"), reverse("approvals:proof", args=[state.proof.public_id]))
    elif state.key == StateKey.APPROVED and sender_problem:
        note = sender_problem
    elif state.key == StateKey.APPROVED:
        if can_edit:
            action = Action(_("Schedule"), reverse("campaigns:campaign-schedule", args=[campaign.public_id]),
                            post=True, testid="checklist-schedule")
        else:
            note = _("The branch schedules it.")
    elif state.key == StateKey.SCHEDULED:
        note = _("Nothing to do: it leaves on its send date.")
    elif state.key in (StateKey.SENDING, StateKey.PAUSED):
        note = state.label
    elif state.key == StateKey.SENT:
        note = _("Sent: see its results in the reports.")
    return Checklist(items=items, action=action, note=note)


def checklist_context(*, user, campaign, live: dict, editable: bool) -> dict[str, object]:
    """What the campaign page needs for its checklist: ``state`` and ``checklist``."""

    state = campaign_states(fetched_by=user, campaigns=[campaign])[campaign.pk]
    return {"state": state, "checklist": campaign_checklist(
        campaign=campaign, state=state, live=live, can_edit=campaign_can_edit(user, campaign), editable=editable,
        sender_problem=identity_problem(campaign.network_id, campaign.channel))}
