"""The post channel: printed letters (a mail merge PDF, ``central.delivery.mail_merge``), not
dispatched message by message."""

from django.utils.translation import gettext_lazy as _

from central.channels.registry import ChannelSpec, CostRate

SPEC = ChannelSpec(
    code="post",
    label=_("Post"),
    address_fields=("address_line1", "postal_code"),
    matched_address="",
    consent_field="consent_post",
    template_kinds=("print",),
    sender_setting="",
    cost_rates=(CostRate("page", "cost_print_page", per="page"), CostRate("copy", "cost_print_copy", per="copy"),
                CostRate("postage", "cost_postage", per="copy")),
    cost_unit=_("letter"),
    why_not=_("no postal address"),
)
