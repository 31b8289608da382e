"""Pages of approvals: the inbox, a proof (BAT) with what the branch changed, the decision and the
revocation, its history; the network's policies; the audit export.

Thin: proofs are read through ``proof_get`` (a proof the user does not see answers 404, like a
missing one), every decision goes through ``approvals.services``, every policy through
``approvals.policies``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from approvals.deciders import decision_refusal, revoke_refusal
from approvals.forms import DecisionForm, PolicyForm, RevokeForm, errors_to_form
from approvals.models import (
    DEFAULT_STEPS,
    HEAD_OFFICE_STEP,
    ApprovalPolicy,
    AuditAction,
    ChangeLevel,
    Origin,
    ProofStatus,
    StepLevel,
    Verdict,
)
from approvals.policies import policy_save
from approvals.selectors import (
    approval_scope_exists,
    audit_visible_to,
    decisions_by,
    networks_setting_policies,
    pending_proofs_for,
    policies_visible_to,
    proof_decisions,
    proof_get,
    proof_history,
)
from approvals.services import approval_revoke, proof_decide
from approvals.slot_display import slot_displays
from central.campaigns.selectors import campaigns_visible_to
from central.campaigns.states import with_states
from central.customers.labels import criterion_value
from central.models import TARGETING_CRITERIA, Channel
from central.spreadsheets import csv_lines, spreadsheet_safe
from local_stores.models import Role
from local_stores.money import money
from templates_lib import rendering
from templates_lib.slot_dates import slot_date_warnings

#: The frozen e-mail is shown as it is: no script, no plugin, no form, no request but images,
#: styles and fonts; ``sandbox`` makes it an opaque origin even if opened outside its frame.
PROOF_CSP = "default-src 'none'; img-src data: https: http:; style-src 'unsafe-inline'; font-src data: https:; sandbox"


def _messages_of(error: Exception) -> list[str]:
    return list(getattr(error, "messages", None) or [str(error)])


def _name(user) -> str:
    if user is None:
        return "Relais"
    return user.get_full_name() or user.get_username()


def _label(choices, value: str) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return value


def step_text(step: dict) -> str:
    """A step in plain words: "Regional manager — North" once resolved to a node, else "Regional
    manager of the branch's region", "Approver at head office"."""
    role = _label(Role, step.get("role", ""))
    if step.get("node_name"):
        text = _("%(role)s — %(node)s") % {"role": role, "node": step["node_name"]}
    elif step.get("level") == StepLevel.REGION:
        text = _("%(role)s of the branch's region") % {"role": role}
    else:
        text = _("%(role)s at head office") % {"role": role}
    quorum = int(step.get("quorum", 1) or 1)
    if quorum > 1:
        text += " " + _("(%(n)s approvals)") % {"n": quorum}
    over = step.get("over_budget")
    if isinstance(over, dict):
        text += " · " + _("over budget: costs the branch %(cost)s, %(remaining)s remained") % {
            "cost": money(over.get("cost")), "remaining": money(over.get("remaining"))}
    return text


def _iso_date(value: str) -> str:
    try:
        return date_format(date.fromisoformat(value), "SHORT_DATE_FORMAT")
    except (TypeError, ValueError):
        return str(value)


def slot_text(value: object) -> str:
    """A slot value as a reader sees it (prices are {amount, currency, conditions})."""
    if value in (None, ""):
        return ""
    if isinstance(value, dict):
        if "amount" in value:
            text = f"{value.get('amount')} {value.get('currency', '')}".strip()
            return f"{text} — {value['conditions']}" if value.get("conditions") else text
        return ", ".join(f"{key}: {item}" for key, item in value.items())
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


# --- The inbox ---------------------------------------------------------------------------------------


@login_required
@require_GET
def inbox_view(request: HttpRequest) -> HttpResponse:
    """Proofs waiting for the user; head office (who sets the policies) reaches its policies and the
    audit trail from here even without approving anything. Others: 404."""
    sets_policies = networks_setting_policies(request.user).exists()
    if not approval_scope_exists(fetched_by=request.user) and not sets_policies:
        raise Http404
    today = timezone.localdate()
    rows = [{"proof": proof, "overdue": proof.decision_deadline < today, "step": proof.current_step + 1,
             "steps": len(proof.steps), "step_text": step_text(proof.steps[proof.current_step])}
            for proof in pending_proofs_for(fetched_by=request.user)]
    decided = decisions_by(fetched_by=request.user, limit=20)
    # each decided campaign's state now (central/campaigns/states.py): where it went after the decision
    with_states(fetched_by=request.user, campaigns=[decision.proof.campaign for decision in decided])
    return render(request, "approvals/inbox.html", {
        "proofs": rows, "decided": decided, "sets_policies": sets_policies,
    })


# --- A proof -----------------------------------------------------------------------------------------


def _history(proof) -> list[dict[str, object]]:
    """The audit entries of the proof's campaign (all its proofs), in plain words."""
    entries = []
    for entry in proof_history(proof=proof):
        details = entry.details or {}
        lines: list[str] = []
        if "step" in details and entry.proof is not None and isinstance(details["step"], int):
            index = details["step"]
            steps = entry.proof.steps or []
            where = step_text(steps[index]) if index < len(steps) else ""
            lines.append(_("Step %(n)s of %(total)s: %(where)s") % {"n": index + 1, "total": len(steps), "where": where})
        if details.get("quorum"):
            lines.append(_("Approvals so far: %(quorum)s") % {"quorum": details["quorum"]})
        if details.get("final"):
            lines.append(_("Every step is approved: the campaign may be scheduled."))
        if entry.action == AuditAction.REQUESTED:
            if details.get("audience") is not None:
                lines.append(_("Audience: %(n)s") % {"n": details["audience"]})
            if details.get("send_date"):
                lines.append(_("Send date: %(date)s") % {"date": _iso_date(details["send_date"])})
        if details.get("comment"):
            lines.append(_("Comment: %(text)s") % {"text": details["comment"]})
        labels = entry.proof.slot_labels if entry.proof is not None else {}
        for name, text in (details.get("slot_comments") or {}).items():
            lines.append(f"{labels.get(name, name)}: {text}")
        if details.get("reason"):
            lines.append(_("Reason: %(text)s") % {"text": details["reason"]})
        entries.append({"entry": entry, "label": entry.get_action_display(), "who": _name(entry.by),
                        "number": entry.proof.number if entry.proof is not None else None, "lines": lines})
    return entries


def _steps(proof) -> list[dict[str, object]]:
    by_step: dict[int, list] = {}
    for decision in proof_decisions(proof=proof):
        by_step.setdefault(decision.step, []).append(decision)
    rows = []
    for index, step in enumerate(proof.steps):
        if proof.status == ProofStatus.APPROVED or index < proof.current_step:
            state = "done"
        elif index == proof.current_step and proof.status == ProofStatus.PENDING:
            state = "current"
        elif index == proof.current_step:
            state = "closed"
        else:
            state = "later"
        rows.append({"number": index + 1, "text": step_text(step), "state": state,
                     "escalated": index in (proof.escalated_steps or []),
                     "decisions": [(d, [(proof.slot_labels.get(n, n), t) for n, t in (d.slot_comments or {}).items()])
                                   for d in by_step.get(index, [])]})
    return rows


def _changes(proof) -> list[dict[str, object]]:
    names = list(proof.slot_labels) + [name for name in proof.slot_values if name not in proof.slot_labels]
    show = slot_displays(proof, [proof.default_values or {}, proof.slot_values or {}])  # names, not ast_…
    rows = []
    for name in names:
        default, value = proof.default_values.get(name), proof.slot_values.get(name)
        rows.append({"name": name, "label": proof.slot_labels.get(name, name), "default": show(name, default),
                     "value": show(name, value), "changed": (value or None) != (default or None)})
    return rows


def _proof_page(request: HttpRequest, proof, *, decision_form: DecisionForm | None = None,
                revoke_form: RevokeForm | None = None) -> HttpResponse:
    refusal = decision_refusal(request.user, proof)
    can_revoke = revoke_refusal(request.user, proof) is None
    if refusal is None and decision_form is None:
        decision_form = DecisionForm(slot_labels=proof.slot_labels)
    if can_revoke and revoke_form is None:
        revoke_form = RevokeForm()
    overrides = proof.overrides or []
    today = timezone.localdate()
    return render(request, "approvals/proof.html", {
        "proof": proof, "campaign": proof.campaign,
        "step_number": min(proof.current_step, max(len(proof.steps) - 1, 0)) + 1, "step_count": len(proof.steps),
        "current_step_text": step_text(proof.steps[proof.current_step]) if proof.current_step < len(proof.steps) else "",
        "overdue": proof.status == ProofStatus.PENDING and proof.decision_deadline < today,
        "criteria": [(str(TARGETING_CRITERIA.get(name, name)), slot_text(criterion_value(name, value)))
                     for name, value in (proof.target_criteria or {}).items()],
        "excluded": sum(1 for pair in overrides if pair[1] == "exclude"),
        "included": sum(1 for pair in overrides if pair[1] == "include"),
        "changes": _changes(proof), "steps": _steps(proof), "history": _history(proof),
        "decision_form": decision_form if refusal is None else None, "refusal": refusal,
        "revoke_form": revoke_form if can_revoke else None,
        "is_pending": proof.status == ProofStatus.PENDING,
        "sms_count": rendering.sms_count(proof.text) if proof.channel == Channel.SMS and proof.text else None,
        "in_inbox": approval_scope_exists(fetched_by=request.user),
        "sees_campaign": campaigns_visible_to(request.user).filter(pk=proof.campaign_id).exists(),
        # an offer's end or a date slot before the send date: a warning for the approver (issue 19, defect 4)
        "slot_date_warnings": slot_date_warnings(rendering.version_slots(proof.campaign.template_version),
                                                 {**(proof.default_values or {}), **(proof.slot_values or {})},
                                                 send_date=proof.send_date),
    })


@login_required
@require_GET
def proof_view(request: HttpRequest, public_id: str) -> HttpResponse:
    return _proof_page(request, proof_get(fetched_by=request.user, public_id=public_id))


@login_required
@require_POST
def proof_decide_view(request: HttpRequest, public_id: str) -> HttpResponse:
    proof = proof_get(fetched_by=request.user, public_id=public_id)
    refusal = decision_refusal(request.user, proof)
    if refusal is not None:
        messages.error(request, refusal)
        return redirect("approvals:proof", public_id=proof.public_id)
    form = DecisionForm(request.POST, slot_labels=proof.slot_labels)
    if form.is_valid():
        verdict = form.cleaned_data["verdict"]
        try:
            proof_decide(proof=proof, decided_by=request.user, verdict=verdict,
                         comment=form.cleaned_data["comment"], slot_comments=form.slot_comments())
        except ValidationError as error:
            if not hasattr(error, "error_dict"):  # about the proof, not the input: e.g. it is now void
                for message in _messages_of(error):
                    messages.error(request, message)
                return redirect("approvals:proof", public_id=proof.public_id)
            errors_to_form(form, error)
        except PermissionDenied as error:
            messages.error(request, str(error) or _("You may not decide this proof."))
            return redirect("approvals:proof", public_id=proof.public_id)
        else:
            messages.success(request, {
                Verdict.APPROVE: _("Approved. Thank you."),
                Verdict.REJECT: _("Rejected: the branch is told why."),
                Verdict.CHANGES: _("Changes requested: the branch is told what to change."),
            }[verdict])
            return redirect("approvals:proof", public_id=proof.public_id)
    return _proof_page(request, proof, decision_form=form)


@login_required
@require_POST
def proof_revoke_view(request: HttpRequest, public_id: str) -> HttpResponse:
    proof = proof_get(fetched_by=request.user, public_id=public_id)
    refusal = revoke_refusal(request.user, proof)
    if refusal is not None:
        messages.error(request, refusal)
        return redirect("approvals:proof", public_id=proof.public_id)
    form = RevokeForm(request.POST)
    if form.is_valid():
        try:
            approval_revoke(proof=proof, revoked_by=request.user, reason=form.cleaned_data["reason"])
        except ValidationError as error:
            errors_to_form(form, error)
        except PermissionDenied as error:
            messages.error(request, str(error) or _("You may not revoke this approval."))
            return redirect("approvals:proof", public_id=proof.public_id)
        else:
            messages.success(request, _("Approval revoked: the campaign is back in preparation."))
            return redirect("approvals:proof", public_id=proof.public_id)
    return _proof_page(request, proof, revoke_form=form)


@login_required
@require_GET
@xframe_options_sameorigin
def proof_content_view(request: HttpRequest, public_id: str) -> HttpResponse:
    """The frozen e-mail, for the viewer's sandboxed frame only (strict CSP, no script)."""
    proof = proof_get(fetched_by=request.user, public_id=public_id)
    if not proof.html:
        raise Http404
    response = HttpResponse(proof.html, content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = PROOF_CSP
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_GET
@xframe_options_sameorigin
def proof_pdf_view(request: HttpRequest, public_id: str) -> HttpResponse:
    proof = proof_get(fetched_by=request.user, public_id=public_id)
    if not proof.pdf:
        raise Http404
    response = HttpResponse(bytes(proof.pdf), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="BAT-{proof.number}.pdf"'
    response["Cache-Control"] = "private, no-store"
    return response


# --- Policies ----------------------------------------------------------------------------------------


def _policy_network(request: HttpRequest):
    """The network whose policies the user sets: the one asked for, else their first; 404 for others."""
    networks = networks_setting_policies(request.user).order_by("name")
    wanted = request.POST.get("network") or request.GET.get("network")
    network = networks.filter(slug=wanted).first() if wanted else networks.first()
    if network is None:
        raise Http404
    return network


def _matches(policy: ApprovalPolicy) -> list[str]:
    return [
        _label(Channel, policy.channel) if policy.channel else _("any channel"),
        _label(Origin, policy.origin) if policy.origin else _("any origin"),
        _label(ChangeLevel, policy.changes) if policy.changes else _("any change"),
    ]


@login_required
@require_GET
def policy_list_view(request: HttpRequest) -> HttpResponse:
    network = _policy_network(request)
    policies = policies_visible_to(request.user).filter(network=network).order_by("position", "id")
    return render(request, "approvals/policies.html", {
        "network": network, "networks": networks_setting_policies(request.user).order_by("name"),
        "policies": [{"policy": policy, "matches": _matches(policy), "steps": [step_text(s) for s in policy.steps]}
                     for policy in policies],
        "default_steps": [step_text(step) for step in DEFAULT_STEPS],
        "head_office_step": step_text(HEAD_OFFICE_STEP),
        "in_inbox": approval_scope_exists(fetched_by=request.user),
    })


def _policy_form_page(request: HttpRequest, *, network, policy: ApprovalPolicy | None) -> HttpResponse:
    if request.method == "POST":
        form = PolicyForm(request.POST)
        if form.is_valid():
            try:
                policy_save(network=network, saved_by=request.user, policy=policy, **form.policy_fields())
            except ValidationError as error:
                errors_to_form(form, error)
            except PermissionDenied as error:
                raise Http404 from error
            else:
                messages.success(request, _("Policy saved: it applies to the next approval requests."))
                return redirect(f"{reverse('approvals:policies')}?network={network.slug}")
    elif policy is not None:
        form = PolicyForm(initial=PolicyForm.initial_for(policy))
    else:
        last = policies_visible_to(request.user).filter(network=network).order_by("-position").first()
        form = PolicyForm(initial={"position": (last.position + 10) if last else 10, "is_active": True,
                                   "step1_quorum": 1})
    return render(request, "approvals/policy_form.html", {"form": form, "policy": policy, "network": network})


@login_required
@require_http_methods(["GET", "POST"])
def policy_create_view(request: HttpRequest) -> HttpResponse:
    return _policy_form_page(request, network=_policy_network(request), policy=None)


@login_required
@require_http_methods(["GET", "POST"])
def policy_edit_view(request: HttpRequest, public_id: str) -> HttpResponse:
    policy = get_object_or_404(policies_visible_to(request.user).select_related("network"), public_id=public_id)
    return _policy_form_page(request, network=policy.network, policy=policy)


# --- The audit export --------------------------------------------------------------------------------

AUDIT_COLUMNS = ["at", "network", "branch", "campaign", "proof", "action", "by", "details"]


def _audit_rows(entries) -> Iterator[str]:
    rows = entries.order_by("at", "id").values_list(
        "at", "network__slug", "branch__code", "campaign__public_id", "proof__number", "action", "by__username",
        "details")

    def lines():
        yield AUDIT_COLUMNS
        for at, network, branch, campaign, number, action, by, details in rows.iterator(chunk_size=2000):
            yield [spreadsheet_safe(value) for value in (
                at.isoformat(), network, branch or "", campaign or "", number if number is not None else "", action,
                by or "", json.dumps(details or {}, ensure_ascii=False, sort_keys=True))]

    return csv_lines(lines())


@login_required
@require_GET
def audit_export_view(request: HttpRequest) -> StreamingHttpResponse:
    """The whole audit trail of the networks whose policies the user sets, as CSV; 404 for others."""
    if not networks_setting_policies(request.user).exists():
        raise Http404
    response = StreamingHttpResponse(_audit_rows(audit_visible_to(request.user)), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="relais-audit-{timezone.localdate():%Y-%m-%d}.csv"'
    return response
