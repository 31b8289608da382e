"""The SMS channel: sent through a ``central.delivery.sms_backends`` backend, billed per segment."""

import re

from django.utils.translation import gettext_lazy as _

from central.channels.registry import ChannelSpec, CostRate

_PHONE_NOISE = re.compile(r"[\s.\-()/]")


def normalise_mobile(raw: str) -> str | None:
    """E.164 for French numbers written nationally (06…, 07…), any +CC number kept as is."""
    number = _PHONE_NOISE.sub("", raw)
    if number.startswith("00"):
        number = "+" + number[2:]
    if len(number) == 10 and number[0] == "0" and number.isascii() and number.isdigit():
        number = "+33" + number[1:]
    if number.startswith("+") and number[1:].isascii() and number[1:].isdigit() and 8 <= len(number) - 1 <= 15:
        return number
    return None


SPEC = ChannelSpec(
    code="sms",
    label=_("SMS"),
    address_fields=("mobile",),
    matched_address="mobile",
    consent_field="consent_sms",
    template_kinds=("sms",),
    sender_setting="RELAIS_SMS_TWILIO_FROM",
    cost_rates=(CostRate("segment", "cost_sms_segment", per="segment"),),
    cost_unit=_("SMS segment"),
    why_not=_("no mobile number"),
    delivery_class="central.delivery.channels.SmsChannel",
    address_normaliser="central.channels.sms.normalise_mobile",
)
