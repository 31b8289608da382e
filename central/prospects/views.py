"""The prospects' pages: a branch's public sign-up page and the confirmation link of its e-mails (no
login: mounted in the ``public`` namespace by ``central/delivery/public_urls.py``), and the branch's
poster of its sign-up page (for who sees the branch)."""

import segno
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from central.delivery.public_views import _private
from central.prospects.forms import SignupForm
from central.prospects.services import SignupRefused, signup_confirm, signup_submit
from local_stores.models import Node, NodeKind
from local_stores.selectors import branch_get
from templates_lib import rendering_print


def _signup_branch(public_id: str):

    branch = Node.objects.filter(public_id=public_id, kind=NodeKind.BRANCH, is_active=True).select_related(
        "network").first()
    if branch is None:
        raise Http404
    return branch


def signup_intro(branch) -> str:
    """What the page says above the form: part of the proof of consent."""
    return _("Receive the offers of %(branch)s (%(network)s). You can unsubscribe at any time from each "
             "message, or by replying STOP to an SMS. Your details are used by %(network)s and its branches for "
             "their offers only.") % {"branch": branch.name, "network": branch.network.name}


@never_cache
@require_http_methods(["GET", "POST"])
def signup_view(request: HttpRequest, public_id: str) -> HttpResponse:
    """The sign-up page of a branch: nothing is stored until the form is valid; a robot (the trap
    field filled in) is told it worked and nothing is stored; too many sign-ups from one address are
    refused."""

    branch = _signup_branch(public_id)
    form = SignupForm(request.POST or None)
    intro = signup_intro(branch)
    if request.method == "POST" and form.is_valid():
        if form.is_robot:
            return _private(render(request, "central/public/signup_done.html", {"branch": branch, "sender": branch.network.name, "email": ""}))
        data = form.cleaned_data
        shown = "\n".join([intro, *(str(form.fields[name].label) for name in ("consent_email", "consent_sms")
                                     if data[name])])
        try:
            signup_submit(branch=branch, first_name=data["first_name"], last_name=data["last_name"],
                          email=data["email"], mobile=data["mobile"], consent_email=data["consent_email"],
                          consent_sms=data["consent_sms"], ip=request.META.get("REMOTE_ADDR", ""),
                          page=request.build_absolute_uri(), text_shown=shown,
                          confirm_url=lambda token: settings.RELAIS_BASE_URL.rstrip("/")
                          + reverse("public:signup-confirm", args=[token]))
        except SignupRefused as error:
            form.add_error(None, str(error))
            return _private(render(request, "central/public/signup.html",
                                   {"branch": branch, "sender": branch.network.name, "form": form, "intro": intro}, status=429))
        return _private(render(request, "central/public/signup_done.html", {"branch": branch, "sender": branch.network.name, "email": data["email"]}))
    status = 400 if request.method == "POST" else 200
    return _private(render(request, "central/public/signup.html", {"branch": branch, "sender": branch.network.name, "form": form, "intro": intro},
                           status=status))


@never_cache
@require_GET
def signup_confirm_view(request: HttpRequest, token: str) -> HttpResponse:
    """The link of the confirmation e-mail: confirms once; again, says it is done; expired or
    altered, says so (HTTP 400)."""


    try:
        signup, first_time = signup_confirm(token=token)
    except ValidationError as error:
        return _private(render(request, "central/public/signup_confirmed.html",
                               {"problem": error.messages[0], "expired": error.code == "expired", "sender": "Relais"}, status=400))
    return _private(render(request, "central/public/signup_confirmed.html",
                           {"branch": signup.branch, "sender": signup.branch.network.name, "first_time": first_time}))


@login_required
@require_GET
def signup_poster_view(request: HttpRequest, public_id: str) -> HttpResponse:
    """A branch's poster for the shop counter (A4 PDF): a QR code of its sign-up page, and the page's
    address written out. For who sees the branch (404 otherwise)."""
    branch = branch_get(fetched_by=request.user, public_id=public_id)
    if branch.kind != NodeKind.BRANCH:
        raise Http404
    pdf = signup_poster_pdf(branch)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{branch.code}-signup-poster.pdf"'
    return response


def signup_url(branch) -> str:
    return settings.RELAIS_BASE_URL.rstrip("/") + reverse("public:signup", args=[branch.public_id])


def signup_poster_pdf(branch) -> bytes:


    url = signup_url(branch)
    qr = segno.make(url, error="m").svg_inline(scale=8, dark="#000", light="#fff")
    document = render_to_string("central/signup_poster.html", {"branch": branch, "url": url, "qr": mark_safe(qr)})  # noqa: S308 (segno's own SVG)
    return rendering_print.render_pdf(document, {})
