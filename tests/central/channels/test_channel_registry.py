"""The channel registry (central/channels/): one spec per channel, the same codes as ``Channel``'s
choices; a code no module declares raises ``UnknownChannel`` wherever a channel is looked up (no
silent ``else``); and a channel added in a test (a fake "push" spec) flows through the consumers
that need no migration. (Sending a real "push" campaign would need its ``Channel`` value and its
consent column on ``Customer``: a migration, docs/architecture.md "A new channel".)"""

from dataclasses import replace
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from central.budgets import costs as budgets
from central.channels import registry
from central.channels.registry import ChannelSpec, CostRate, UnknownChannel
from central.channels.sms import normalise_mobile
from central.customers.consent import consent_problem, suppress_address
from central.delivery import channels as delivery_channels
from central.models import Channel, ConsentStatus, Customer, NetworkRules, reachable_condition


def test_registry_matches_channel_choices_exactly():
    assert registry.codes() == tuple(Channel.values)
    assert [str(spec.label) for spec in registry.all()] == [str(label) for label in Channel.labels]
    assert registry.get("email").consent_field == "consent_email"
    assert registry.for_template_kind("print").code == "post"
    assert registry.cost_fields() == ("cost_email", "cost_sms_segment", "cost_print_page", "cost_print_copy",
                                      "cost_postage")
    for spec in registry.all():  # every declared field exists on the models
        assert spec.consent_field == f"consent_{spec.code}"  # the import's CSV columns and SQL build on it
        assert all(Customer._meta.get_field(name) for name in (*spec.address_fields, spec.consent_field,
                                                                 spec.consent_at_field, spec.consent_source_field))
        assert all(NetworkRules._meta.get_field(rate.price_field) for rate in spec.cost_rates)


def test_reachable_condition_is_what_it_was():
    granted = ConsentStatus.GRANTED
    assert reachable_condition("email") == Q(consent_email=granted, objected_at__isnull=True) & ~Q(email="")
    assert reachable_condition("sms") == Q(consent_sms=granted, objected_at__isnull=True) & ~Q(mobile="")
    assert reachable_condition("post") == (Q(consent_post=granted, objected_at__isnull=True)
                                           & ~Q(address_line1="") & ~Q(postal_code=""))


def test_the_channels_normalisers():
    assert registry.get("sms").normalise("06 12 34 56 78") == normalise_mobile("0612345678") == "+33612345678"
    assert registry.get("email").normalise(" Anne@Example.COM ") == "anne@example.com"
    assert registry.get("post").normalise("  ") is None


@pytest.mark.parametrize("lookup", [
    lambda: registry.get("fax"),
    lambda: registry.for_template_kind("fax"),
    lambda: reachable_condition("fax"),
    lambda: delivery_channels.channel_for(SimpleNamespace(channel="fax")),
    lambda: budgets.unit_cost(SimpleNamespace(channel="fax"), NetworkRules()),
    lambda: budgets.campaign_cost_actual(SimpleNamespace(channel="fax", operation=None),
                                         rules=NetworkRules(), sent={"count": 1, "segments": 0, "unknown": 0,
                                                                     "pages": 0, "letters": 0}),
    lambda: consent_problem(Customer(consent_email=ConsentStatus.GRANTED), "fax"),
    lambda: suppress_address(customer=Customer(email="a@example.com"), channel="fax", reason="test"),
], ids=["get", "template kind", "reachable_condition", "channel_for", "unit_cost", "cost_actual",
        "consent_problem", "suppress_address"])
def test_an_unknown_channel_raises_everywhere(lookup):
    with pytest.raises(UnknownChannel, match="unknown channel"):
        lookup()


def test_post_is_not_dispatched_message_by_message():
    with pytest.raises(UnknownChannel, match="no delivery class"):
        delivery_channels.channel_for(SimpleNamespace(channel="post"))


class PushChannel:
    def __init__(self, campaign) -> None:
        self.campaign = campaign


PUSH = ChannelSpec(code="push", label=_("Push"), address_fields=("mobile",), matched_address="",
                   consent_field="consent_sms", template_kinds=("push",), sender_setting="",
                   cost_rates=(CostRate("push", "cost_email", per="message"),), cost_unit=_("notification"),
                   why_not=_("no device"), delivery_class=f"{__name__}.PushChannel")


@pytest.fixture
def push(monkeypatch):
    """A fifth line in the registry. Its consent column borrows the SMS one: a real channel's would
    be a new field (and migration) of ``Customer``."""
    specs = {**{spec.code: spec for spec in registry.all()}, "push": PUSH}
    monkeypatch.setattr(registry, "_specs", lambda: specs)
    return PUSH


def test_a_new_channel_flows_through_the_consumers(push):
    assert registry.for_template_kind("push") is push
    assert reachable_condition("push") == Q(consent_sms=ConsentStatus.GRANTED, objected_at__isnull=True) & ~Q(mobile="")
    sender = delivery_channels.channel_for(SimpleNamespace(channel="push"))
    assert isinstance(sender, PushChannel)
    unit, parts = budgets.unit_cost(SimpleNamespace(channel="push"), NetworkRules(cost_email=Decimal("0.0100")))
    assert unit == Decimal("0.0100") and [part.kind for part in parts] == ["push"]
    customer = Customer(consent_sms=ConsentStatus.GRANTED, mobile="")
    assert consent_problem(customer, "push") == "no_address"
    customer.mobile = "+33612345678"
    assert consent_problem(customer, "push") == ""  # no matched address: nothing to look up in the suppression list


def test_reporting_names_a_channel_from_the_registry(push, monkeypatch):
    from reporting import selectors

    monkeypatch.setattr(selectors, "stats_breakdown", lambda stats, by: [("push", "push", None), ("sms", "sms", None)])
    assert [label for _key, label, _totals in selectors.breakdown_for(None, None, "channel")] == ["Push", "SMS"]
    monkeypatch.setattr(selectors, "stats_breakdown", lambda stats, by: [("fax", "fax", None)])
    with pytest.raises(UnknownChannel):
        selectors.breakdown_for(None, None, "channel")


def test_a_new_channel_reaches_the_arbitration_sql(push):
    from central.arbitration.candidates import _first_reason_sql

    sql, params = _first_reason_sql(1, set(), had=False)
    assert sql.count("WHEN %s THEN (CASE") == 4 and "push" in params
    assert sql.count("consent_sms <> %s") == 2


def test_a_spec_is_frozen():
    with pytest.raises(AttributeError):
        registry.get("email").code = "mail"
    assert replace(registry.get("email"), code="mail").code == "mail"
