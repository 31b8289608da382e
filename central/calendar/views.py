"""Pages of the national calendar: the calendar (by month), an operation with the branches'
answers, joining or declining, and the personal iCalendar feed."""

from __future__ import annotations

import calendar as month_calendar
from datetime import date, timedelta

import icalendar
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from central.calendar.forms import CalendarPeriodForm, OperationForm
from central.calendar.selectors import (
    calendar_periods_visible_to,
    feed_token_user,
    networks_planned_by,
    operation_eligible_branches,
    operation_get,
    participations_of,
)
from central.calendar.services import (
    WITHDRAWN_ANSWERS,
    calendar_period_delete,
    calendar_period_save,
    feed_token_create,
    feed_token_revoke,
    operation_publish,
    operation_save,
    participation_answer,
)
from central.campaigns.selectors import calendar_entries, campaign_list, participation_withdrawal_preview
from central.campaigns.services import national_campaign_create
from central.campaigns.states import campaigns_created_message, with_states
from central.campaigns.target_review_selectors import (
    head_office_sends,
    review_counts,
    review_deadline,
    review_is_open,
)
from central.models import CalendarFeedToken, OperationMode, OperationStatus, ParticipationStatus
from local_stores.selectors import branches_visible_to, node_in_scope


def _month(request: HttpRequest) -> date:
    try:
        year, month = (int(part) for part in request.GET.get("month", "").split("-"))
        return date(year, month, 1)
    except ValueError:
        today = timezone.localdate()
        return today.replace(day=1)


@login_required
@require_GET
def calendar_view(request: HttpRequest) -> HttpResponse:
    first = _month(request)
    last = first.replace(day=month_calendar.monthrange(first.year, first.month)[1])
    entries = calendar_entries(fetched_by=request.user, start=first, end=last)
    with_states(fetched_by=request.user, campaigns=entries["campaigns"])  # each campaign's state, shown by its name
    weeks = []
    for week in month_calendar.Calendar(firstweekday=0).monthdatescalendar(first.year, first.month):
        days = []
        for day in week:
            days.append({
                "date": day, "in_month": day.month == first.month,
                "operations": [op for op in entries["operations"] if op.send_from <= day <= op.send_until],
                "deadlines": [op for op in entries["operations"] if op.subscription_deadline == day],
                "periods": [period for period in entries["periods"] if period.starts_on <= day <= period.ends_on],
                "campaigns": [campaign for campaign in entries["campaigns"] if campaign.send_date == day],
            })
        weeks.append({"days": days, "load": sum(len(d["campaigns"]) for d in days),
                      "operations": len({op.pk for d in days for op in d["operations"]})})
    previous = (first - timedelta(days=1)).replace(day=1)
    following = (last + timedelta(days=1))
    feed = CalendarFeedToken.objects.filter(user=request.user, revoked_at__isnull=True).first()
    return render(request, "central/calendar.html", {
        "first": first, "weeks": weeks, "operations": entries["operations"], "periods": entries["periods"], "campaigns": entries["campaigns"],
        "previous": f"{previous:%Y-%m}", "next": f"{following:%Y-%m}", "can_plan": networks_planned_by(request.user).exists(),
        "feed_url": request.build_absolute_uri(reverse("calendar-feed", args=[feed.token])) if feed else None,
    })


@login_required
@require_GET
def operation_detail_view(request: HttpRequest, public_id: str) -> HttpResponse:
    operation = operation_get(fetched_by=request.user, public_id=public_id)
    eligible = operation_eligible_branches(operation)
    mine = [branch for branch in branches_visible_to(request.user).filter(pk__in=eligible).order_by("name")
            if node_in_scope(request.user, branch, perm="change_node")]
    answers = {p.branch_id: p for p in participations_of(fetched_by=request.user, operation=operation)}
    deadline_passed = bool(operation.subscription_deadline and timezone.localdate() > operation.subscription_deadline)
    has_national_send = head_office_sends(operation).exists()
    return render(request, "central/operation_detail.html", {
        # head office's own send and the branches' review of its target (their counts)
        "review": {"counts": review_counts(fetched_by=request.user, operation=operation),
                   "deadline": review_deadline(operation), "open": review_is_open(operation),
                   "acts_for": {branch.pk for branch in mine}}
        if has_national_send else None,
        "operation": operation, "answerable": [(branch, answers.get(branch.pk)) for branch in mine],
        "answers": sorted(answers.values(), key=lambda p: p.branch.name), "deadline_passed": deadline_passed,
        "eligible_count": eligible.count(), "modes": OperationMode, "statuses": ParticipationStatus,
        "templates": operation.template_versions.select_related("template"),
        "can_plan": networks_planned_by(request.user).filter(pk=operation.network_id).exists(),
        "campaigns": with_states(fetched_by=request.user, campaigns=campaign_list(
            fetched_by=request.user, operation=operation).order_by("branch__name", "send_date")[:300]),
    })


def withdrawal_confirmation(request: HttpRequest, *, operation, branch, status: str, back: str) -> HttpResponse | None:
    """Declining or opting out asks first (a page, no JavaScript needed): the drafts it will cancel,
    by name, channel and date; the answer is posted again with ``confirm=yes``. None when there is
    nothing to ask — confirmed, not a withdrawal, the same answer again (harmless), someone who does
    not act for the branch, or campaigns under way (the service then refuses, naming them)."""
    if status not in WITHDRAWN_ANSWERS or request.POST.get("confirm") == "yes":
        return None
    if not node_in_scope(request.user, branch, perm="change_node"):
        return None
    if participations_of(fetched_by=request.user, operation=operation).filter(branch=branch, status=status).exists():
        return None
    preview = participation_withdrawal_preview(fetched_by=request.user, operation=operation, branch=branch)
    if preview["blocking"]:
        return None
    return render(request, "central/participation_withdraw_confirm.html", {
        "operation": operation, "branch": branch, "status": status, "drafts": preview["drafts"],
        "action": request.path, "back": back,
    })


@login_required
@require_POST
def operation_answer_view(request: HttpRequest, public_id: str) -> HttpResponse:
    operation = operation_get(fetched_by=request.user, public_id=public_id)
    branch = branches_visible_to(request.user).filter(public_id=request.POST.get("branch", "")).first()
    status = request.POST.get("status", "")
    if branch is None or status not in ParticipationStatus.values:
        messages.error(request, _("Choose a branch and an answer."))
    elif (confirmation := withdrawal_confirmation(
            request, operation=operation, branch=branch, status=status,
            back=reverse("calendar:operation-detail", args=[operation.public_id]))) is not None:
        return confirmation
    else:
        try:
            participation_answer(operation=operation, branch=branch, status=status, answered_by=request.user)
        except (ValidationError, PermissionDenied) as error:
            for message in getattr(error, "messages", [str(error)]):
                messages.error(request, message)
        else:
            messages.success(request, _("%(branch)s: %(answer)s.") % {
                "branch": branch.name, "answer": ParticipationStatus(status).label})
            if status in (ParticipationStatus.JOINED, ParticipationStatus.ENROLLED):
                created, _campaigns = campaigns_created_message(fetched_by=request.user, operation=operation,
                                                                branch=branch)
                if created:
                    messages.info(request, created)
    return redirect("calendar:operation-detail", public_id=operation.public_id)


@login_required
@require_POST
def calendar_feed_settings_view(request: HttpRequest) -> HttpResponse:
    if request.POST.get("action") == "revoke":
        feed_token_revoke(user=request.user)
        messages.success(request, _("Your calendar link was revoked: calendars using it stop updating."))
    else:
        feed_token_create(user=request.user)
        messages.success(request, _("A new calendar link was created; the previous one no longer works."))
    return redirect("calendar:calendar")


@require_GET
def calendar_feed_view(request: HttpRequest, token: str) -> HttpResponse:
    """The iCalendar feed of a user: exactly the operations and periods they see."""
    user = feed_token_user(token)
    today = timezone.localdate()
    entries = calendar_entries(fetched_by=user, start=today - timedelta(days=366), end=today + timedelta(days=731))
    feed = icalendar.Calendar()
    feed.add("prodid", "-//Relais//national calendar//FR")
    feed.add("version", "2.0")
    feed.add("x-wr-calname", _("Relais calendar"))
    base = request.build_absolute_uri("/")[:-1]
    for operation in entries["operations"]:
        event = icalendar.Event()
        event.add("uid", f"{operation.public_id}@relais")
        event.add("summary", operation.name)
        event.add("dtstart", operation.send_from)
        event.add("dtend", operation.send_until + timedelta(days=1))
        event.add("description", f"{operation.get_mode_display()} — {operation.theme}".strip(" —"))
        event.add("url", base + reverse("calendar:operation-detail", args=[operation.public_id]))
        event.add("dtstamp", timezone.now())
        feed.add_component(event)
        if operation.subscription_deadline:
            deadline = icalendar.Event()
            deadline.add("uid", f"{operation.public_id}-deadline@relais")
            deadline.add("summary", _("Deadline: %(name)s") % {"name": operation.name})
            deadline.add("dtstart", operation.subscription_deadline)
            deadline.add("dtend", operation.subscription_deadline + timedelta(days=1))
            deadline.add("dtstamp", timezone.now())
            feed.add_component(deadline)
    for campaign in entries["campaigns"]:
        event = icalendar.Event()
        event.add("uid", f"{campaign.public_id}@relais")
        name = campaign.operation.name if campaign.operation_id else campaign.template_version.template.name
        where = campaign.branch.name if campaign.branch_id else _("national")
        event.add("summary", f"{name} — {where} ({campaign.get_channel_display()})")
        event.add("dtstart", campaign.send_date)
        event.add("dtend", campaign.send_date + timedelta(days=1))
        event.add("url", base + reverse("campaigns:campaign-edit", args=[campaign.public_id]))
        event.add("dtstamp", timezone.now())
        feed.add_component(event)
    for period in entries["periods"]:
        event = icalendar.Event()
        event.add("uid", f"period-{period.pk}@relais")
        event.add("summary", f"{period.get_kind_display()}: {period.name}")
        event.add("dtstart", period.starts_on)
        event.add("dtend", period.ends_on + timedelta(days=1))
        event.add("dtstamp", timezone.now())
        feed.add_component(event)
    response = HttpResponse(feed.to_ical(), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="relais.ics"'
    response["Cache-Control"] = "private, max-age=300"
    return response


# --- Head office: planning ----------------------------------------------------------------------


def _planned_network(request: HttpRequest):
    """The network the planner works on: the one asked for, else their first; 404 for others."""
    networks = networks_planned_by(request.user).order_by("name")
    wanted = request.POST.get("network") or request.GET.get("network")
    network = networks.filter(slug=wanted).first() if wanted else networks.first()
    if network is None:
        raise Http404
    return network


def _operation_form_page(request: HttpRequest, *, network, operation=None) -> HttpResponse:
    form = OperationForm(request.POST or None, instance=operation, network=network)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        versions, nodes = data.pop("template_versions"), data.pop("eligible_nodes")
        try:
            saved = operation_save(network=network, saved_by=request.user, operation=operation,
                                   template_versions=versions, eligible_nodes=nodes, **data)
        except ValidationError as error:
            _errors_to_form(form, error)
        else:
            messages.success(request, _("Operation saved as a draft: publish it when it is ready."))
            return redirect("calendar:operation-detail", public_id=saved.public_id)
    return render(request, "central/operation_form.html", {"form": form, "operation": operation, "network": network})


@login_required
@require_http_methods(["GET", "POST"])
def operation_create_view(request: HttpRequest) -> HttpResponse:
    return _operation_form_page(request, network=_planned_network(request))


@login_required
@require_http_methods(["GET", "POST"])
def operation_edit_view(request: HttpRequest, public_id: str) -> HttpResponse:
    operation = operation_get(fetched_by=request.user, public_id=public_id)
    if not networks_planned_by(request.user).filter(pk=operation.network_id).exists():
        raise PermissionDenied
    if operation.status != OperationStatus.DRAFT:
        messages.error(request, _("A published operation no longer changes; cancel it and plan another."))
        return redirect("calendar:operation-detail", public_id=operation.public_id)
    return _operation_form_page(request, network=operation.network, operation=operation)


@login_required
@require_POST
def operation_publish_view(request: HttpRequest, public_id: str) -> HttpResponse:
    operation = operation_get(fetched_by=request.user, public_id=public_id)
    try:
        operation_publish(operation=operation, published_by=request.user)
    except (ValidationError, PermissionDenied) as error:
        for message in getattr(error, "messages", None) or [str(error)]:
            messages.error(request, message)
    else:
        messages.success(request, _("Published: the eligible branches see it now."))
    return redirect("calendar:operation-detail", public_id=operation.public_id)


@login_required
@require_POST
def national_campaign_create_view(request: HttpRequest, public_id: str) -> HttpResponse:
    operation = operation_get(fetched_by=request.user, public_id=public_id)
    version = operation.template_versions.filter(public_id=request.POST.get("version", "")).first()
    if version is None:
        messages.error(request, _("Choose one of the operation's templates."))
        return redirect("calendar:operation-detail", public_id=operation.public_id)
    try:
        campaign = national_campaign_create(operation=operation, template_version=version, created_by=request.user)
    except (ValidationError, PermissionDenied) as error:
        for message in getattr(error, "messages", None) or [str(error)]:
            messages.error(request, message)
        return redirect("calendar:operation-detail", public_id=operation.public_id)
    return redirect("campaigns:campaign-edit", public_id=campaign.public_id)


@login_required
@require_http_methods(["GET", "POST"])
def period_list_view(request: HttpRequest) -> HttpResponse:
    """Blackout periods and periods reserved for local campaigns: listed, added, removed."""
    network = _planned_network(request)
    form = CalendarPeriodForm(request.POST if request.POST.get("action") == "add" else None)
    if request.method == "POST":
        if request.POST.get("action") == "delete":
            period = get_object_or_404(calendar_periods_visible_to(request.user).filter(network=network),
                                       pk=request.POST.get("period") or 0)
            calendar_period_delete(period=period, deleted_by=request.user)
            messages.success(request, _("Period removed."))
            return redirect(f"{reverse('calendar:periods')}?network={network.slug}")
        if form.is_valid():
            try:
                calendar_period_save(network=network, saved_by=request.user, **form.cleaned_data)
            except ValidationError as error:
                _errors_to_form(form, error)
            else:
                messages.success(request, _("Period added."))
                return redirect(f"{reverse('calendar:periods')}?network={network.slug}")
    periods = calendar_periods_visible_to(request.user).filter(network=network).order_by("starts_on")
    return render(request, "central/periods.html", {"form": form, "periods": periods, "network": network})


def _errors_to_form(form, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for field, field_errors in error.message_dict.items():
            for message in field_errors:
                form.add_error(field if field in form.fields else None, message)
    else:
        for message in error.messages:
            form.add_error(None, message)
