"""Pages and endpoints reached from a message, by anyone holding its token. They reveal nothing
but what the message itself showed: an unknown token, or a link that was not in the message,
answers 404. And the SMS provider's webhook for replies, authenticated by its signature."""

import logging

from django.conf import settings
from django.core import signing
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from central.delivery import sms_inbound, tracking
from central.models import Channel

#: A transparent 1×1 GIF.
PIXEL = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
         b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")

logger = logging.getLogger(__name__)


def _private(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store, private"
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


@csrf_exempt  # RFC 8058: mail clients POST without a session; the token is the credential
@require_http_methods(["GET", "POST"])
def unsubscribe_view(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a confirmation page and changes nothing (link scanners follow links); POST — the
    page's button, or a mail client's one-click ``List-Unsubscribe=One-Click`` — unsubscribes."""
    delivery = tracking.delivery_for_token(token)
    if delivery is None:
        raise Http404
    sender = delivery.campaign.network.name
    if request.method == "POST":
        tracking.unsubscribe(delivery=delivery)
        return _private(render(request, "central/public/unsubscribed.html", {"sender": sender}))
    return _private(render(request, "central/public/unsubscribe.html", {
        "sender": sender, "objected": delivery.customer.objected_at is not None}))


@never_cache
@require_GET
def open_pixel_view(request: HttpRequest, token: str) -> HttpResponse:
    """The open pixel: always the same image, whatever the token; an open is recorded for a known one."""
    tracking.tracking_open(token=token)
    return _private(HttpResponse(PIXEL, content_type="image/gif"))


@require_GET
def click_view(request: HttpRequest, token: str) -> HttpResponse:
    """A tracked link: to its target if it was signed for this message, else 404."""
    try:
        target = tracking.tracking_click(token=token, signed=request.GET.get("u", ""))
    except signing.BadSignature:
        raise Http404 from None
    return _private(HttpResponseRedirect(target))


@require_GET
def view_online_view(request: HttpRequest, token: str) -> HttpResponse:
    """The e-mail in the browser, as its recipient got it."""
    delivery = tracking.delivery_for_token(token)
    if delivery is None or delivery.channel != Channel.EMAIL:
        raise Http404
    response = HttpResponse(tracking.message_view_online(delivery=delivery))
    response["Content-Security-Policy"] = (
        "default-src 'none'; img-src https: http: data:; style-src 'unsafe-inline'; font-src https: data:; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
    return _private(response)


@csrf_exempt  # a server-to-server webhook: Twilio's signature is the credential
@require_POST
def sms_inbound_twilio_view(request: HttpRequest) -> HttpResponse:
    """A reply to one of our SMS, posted by Twilio (``From``, ``Body``, ``MessageSid``…) and signed
    with our auth token: a bad or missing signature answers 403 and changes nothing. The URL Twilio
    signed is the public one — ``RELAIS_BASE_URL`` + this path, or the request's own absolute URL
    (behind a proxy, right only with ``SECURE_PROXY_SSL_HEADER`` and ``USE_X_FORWARDED_HOST``)."""
    auth_token = settings.RELAIS_SMS_TWILIO_AUTH_TOKEN
    urls = (settings.RELAIS_BASE_URL.rstrip("/") + request.get_full_path(), request.build_absolute_uri())
    if not sms_inbound.twilio_signature_valid(auth_token=auth_token, urls=urls, params=dict(request.POST.lists()),
                                              signature=request.headers.get("X-Twilio-Signature", "")):
        logger.warning("Inbound SMS refused (403): %s", "RELAIS_SMS_TWILIO_AUTH_TOKEN is not set" if not auth_token
                       else f"missing or bad X-Twilio-Signature for {urls[0]}")
        return _private(HttpResponseForbidden())
    sms_inbound.sms_inbound_receive(sender=request.POST.get("From", ""), body=request.POST.get("Body", ""),
                                    message_id=request.POST.get("MessageSid", ""))
    return _private(HttpResponse(sms_inbound.EMPTY_TWIML, content_type="text/xml"))


# --- A branch's sign-up page ----------------------------------------------------------------------


def _signup_branch(public_id: str):
    from local_stores.models import Node, NodeKind

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
    from central.forms import SignupForm
    from central.prospects.services import SignupRefused, signup_submit

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
    from django.core.exceptions import ValidationError

    from central.prospects.services import signup_confirm

    try:
        signup, first_time = signup_confirm(token=token)
    except ValidationError as error:
        return _private(render(request, "central/public/signup_confirmed.html",
                               {"problem": error.messages[0], "expired": error.code == "expired", "sender": "Relais"}, status=400))
    return _private(render(request, "central/public/signup_confirmed.html",
                           {"branch": signup.branch, "sender": signup.branch.network.name, "first_time": first_time}))
