"""Prospects: a branch's public sign-up page, with double opt-in for e-mail; the sign-up is kept as
the proof of consent."""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from central.customers import consent
from central.models import Channel, Customer, SignupRequest
from local_stores.models import Node

#: A confirmation link works this long.
SIGNUP_CONFIRM_DAYS = 3


#: Sign-ups accepted from one IP address per hour (beyond: refused, nothing stored).
SIGNUP_PER_IP_PER_HOUR = 5


_SIGNUP_SALT = "relais.signup.confirm"


class SignupRefused(Exception):
    """A sign-up refused as a whole (too many from one address): nothing was stored."""


def signup_ip_hash(ip: str) -> str:
    """The IP address as the proof keeps it: a keyed hash (the address itself is never stored)."""
    return hmac.new(settings.SECRET_KEY.encode(), (ip or "").encode(), hashlib.sha256).hexdigest()


def signup_token(signup) -> str:
    """The confirmation link's token: the sign-up's id, signed and dated (tampering breaks it)."""
    return signing.dumps(signup.public_id, salt=_SIGNUP_SALT, compress=False)


def _signup_rate_check(ip_hash: str) -> None:
    key = f"relais:signup:{ip_hash}"
    if cache.get_or_set(key, 0, timeout=3600) >= SIGNUP_PER_IP_PER_HOUR:
        raise SignupRefused(_("Too many sign-ups from your connection: try again in an hour."))
    try:
        cache.incr(key)
    except ValueError:  # expired between the two calls
        cache.set(key, 1, timeout=3600)


def signup_submit(*, branch: Node, first_name: str, last_name: str, email: str, mobile: str, consent_email: bool,
                  consent_sms: bool, ip: str, page: str, text_shown: str, confirm_url) -> object:
    """A visitor's valid sign-up on ``branch``'s page (the form checked the fields): kept as the
    proof of consent. With an e-mail address, a confirmation link is sent to it and nothing else is
    stored until it is followed (double opt-in); with a mobile number only, the prospect is made now.
    ``confirm_url(token)`` builds the link. SignupRefused beyond ``SIGNUP_PER_IP_PER_HOUR``."""
    ip_hash = signup_ip_hash(ip)
    _signup_rate_check(ip_hash)
    signup = SignupRequest.objects.create(
        branch=branch, first_name=first_name, last_name=last_name, email=email.lower(), mobile=mobile,
        consent_email=consent_email, consent_sms=consent_sms, page=page[:300], text_shown=text_shown, ip_hash=ip_hash)
    if email:
        link = confirm_url(signup_token(signup))
        send_mail(
            subject=_("Confirm your sign-up to %(branch)s") % {"branch": branch.name},
            message=_("Hello,\n\nTo receive the offers of %(branch)s, confirm your address by opening this link "
                      "(valid %(days)s days):\n%(link)s\n\nIf you did not sign up, ignore this message: nothing "
                      "will be sent to you.") % {"branch": branch.name, "days": SIGNUP_CONFIRM_DAYS, "link": link},
            from_email=None, recipient_list=[email])
    else:
        with transaction.atomic():
            _prospect_from(signup)
    return signup


def signup_confirm(*, token: str):
    """Follow a confirmation link: (the sign-up, True) the first time — the prospect is made — and
    (the sign-up, False) any later time, changing nothing. ValidationError for a link that was
    tampered with or has expired."""
    try:
        public_id = signing.loads(token, salt=_SIGNUP_SALT, max_age=SIGNUP_CONFIRM_DAYS * 86400)
    except signing.SignatureExpired as error:
        raise ValidationError(_("This link has expired: sign up again to receive a new one."), code="expired") from error
    except signing.BadSignature as error:
        raise ValidationError(_("This link is not valid: copy it whole from the message."), code="invalid") from error
    with transaction.atomic():
        signup = SignupRequest.objects.select_for_update().select_related("branch").filter(public_id=public_id).first()
        if signup is None:
            raise ValidationError(_("This link is not valid: copy it whole from the message."), code="invalid")
        if signup.confirmed_at is not None:
            return signup, False
        _prospect_from(signup)
        return signup, True


def _prospect_from(signup) -> Customer:
    """Make (or update) the prospect of a sign-up, in the current transaction: a customer of the
    network with the same e-mail address (or mobile) gets the consents; anyone else becomes a
    prospect of the branch. Each consent is recorded with the sign-up as its source."""
    now = timezone.now()
    network_id = signup.branch.network_id
    existing = None
    if signup.email:
        existing = Customer.objects.filter(network_id=network_id, email__iexact=signup.email).order_by("pk").first()
    if existing is None and signup.mobile:
        existing = Customer.objects.filter(network_id=network_id, mobile=signup.mobile).order_by("pk").first()
    customer = existing or Customer(
        network_id=network_id, branch=signup.branch, external_id=f"prospect:{signup.public_id}", is_prospect=True,
        first_name=signup.first_name, last_name=signup.last_name, email=signup.email, mobile=signup.mobile)
    granted = [channel for channel, given in ((Channel.EMAIL, signup.consent_email and signup.email),
                                              (Channel.SMS, signup.consent_sms and signup.mobile)) if given]
    if existing is not None:
        customer.email = customer.email or signup.email
        customer.mobile = customer.mobile or signup.mobile
    consent.consent_grant(customer=customer, channels=granted, source=f"sign-up {signup.public_id}", at=now)
    signup.confirmed_at = now
    signup.customer = customer
    signup.save(update_fields=["confirmed_at", "customer"])
    return customer
