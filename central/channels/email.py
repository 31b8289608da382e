"""The e-mail channel: sent over Django's e-mail backend (SMTP or django-anymail)."""

from django.utils.translation import gettext_lazy as _

from central.channels.registry import ChannelSpec, CostRate


def normalise_email(raw: str) -> str | None:
    """An e-mail address as compared and suppressed: trimmed, lower-cased (None if empty)."""
    return raw.strip().lower() or None


SPEC = ChannelSpec(
    code="email",
    label=_("E-mail"),
    address_fields=("email",),
    matched_address="email",
    consent_field="consent_email",
    template_kinds=("email",),
    sender_setting="DEFAULT_FROM_EMAIL",
    cost_rates=(CostRate("email", "cost_email", per="message"),),
    cost_unit=_("e-mail"),
    why_not=_("no e-mail address"),
    delivery_class="central.delivery.channels.EmailChannel",
    address_normaliser="central.channels.email.normalise_email",
)
