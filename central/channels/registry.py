"""The channel registry: one ``ChannelSpec`` per channel, declared in its own module of this
package (``email``, ``sms``, ``post``) and listed once, in ``_MODULES`` below. Targeting,
arbitration, dispatch, budgets, consent, import and reporting read a channel's address, consent,
cost and wording here instead of branching on its code; a code the registry does not know raises
``UnknownChannel`` — nothing falls silently into another channel's branch.

This package imports no other part of the project (an import-linter contract): ``central.models``
reads it (``Channel``'s values, ``reachable_condition``), so it must sit below the models. What a
spec names in other modules (its delivery class, its address normaliser) is a dotted path,
imported when first used.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import import_module

from django.utils.functional import Promise


class UnknownChannel(LookupError):
    """A channel code no module of ``central.channels`` declares."""

    def __init__(self, code: object) -> None:
        super().__init__(f"unknown channel {code!r}: declared channels are {', '.join(codes())} "
                         f"(a new channel is a module of central/channels/ and a line of its registry)")
        self.code = code


@dataclass(frozen=True)
class CostRate:
    """One part of what a message costs: ``name`` (the ``CostPart``'s), the ``NetworkRules``
    field holding its price, and what it is counted ``per``: "message" (one per message sent),
    "segment" (an SMS's segments), "page" (a printed letter's pages), "copy" (one per letter)."""

    name: str
    price_field: str
    per: str


@dataclass(frozen=True)
class ChannelSpec:
    """Everything the project needs to know about a channel, declared once."""

    #: the value stored in every ``channel`` column (a ``Channel`` value)
    code: str
    #: its name for people (lazy, translatable)
    label: Promise
    #: the customer fields a message needs, all non-empty ("email"; "address_line1", "postal_code")
    address_fields: tuple[str, ...]
    #: the customer field whose value the suppression list hashes and "one message per address"
    #: compares (lower-cased), or "" when the channel has none (post)
    matched_address: str
    #: the customer's consent field (with ``<field>_at`` and ``<field>_source`` beside it)
    consent_field: str
    #: the template kinds (``templates_lib.TemplateKind`` values) whose campaigns go out on it
    template_kinds: tuple[str, ...]
    #: the setting naming who the messages come from (a network's brand kit may override it)
    sender_setting: str
    #: what one message costs, part by part (``NetworkRules`` fields)
    cost_rates: tuple[CostRate, ...]
    #: the unit a campaign's cost is counted in, for people (lazy)
    cost_unit: Promise
    #: why a customer cannot be reached on it for want of an address (lazy)
    why_not: Promise
    #: dotted path of the class sending one chunk's deliveries (``central.delivery.channels``), or ""
    #: when the channel is not dispatched message by message (post: a mail merge, printed)
    delivery_class: str = ""
    #: dotted path of ``f(raw) -> str | None`` giving the address as stored and sent (None: invalid),
    #: or "" when the address is kept as typed
    address_normaliser: str = ""

    @property
    def consent_at_field(self) -> str:
        return f"{self.consent_field}_at"

    @property
    def consent_source_field(self) -> str:
        return f"{self.consent_field}_source"

    @property
    def send_address(self) -> str:
        """The customer field a dispatched message goes to (its first address field)."""
        return self.address_fields[0]

    @property
    def dispatched(self) -> bool:
        """Whether its deliveries are sent one by one by the dispatch (not printed)."""
        return bool(self.delivery_class)

    def has_address(self, customer) -> bool:
        """Whether ``customer`` has every address field the channel needs."""
        return not any(not getattr(customer, name) for name in self.address_fields)  # (``all`` is the registry's)

    def matched_value(self, customer) -> str:
        """The customer's address the suppression list hashes ("" if the channel has none)."""
        return (getattr(customer, self.matched_address) or "") if self.matched_address else ""

    def normalise(self, raw: str) -> str | None:
        """``raw`` as the channel stores and sends it, or None if it is no valid address."""
        if not self.address_normaliser:
            return raw.strip() or None
        return _import(self.address_normaliser)(raw)

    def delivery(self, *args, **kwargs):
        """A new instance of its delivery class (one per chunk)."""
        if not self.delivery_class:
            raise UnknownChannel(f"{self.code} (not dispatched message by message: no delivery class)")
        return _import(self.delivery_class)(*args, **kwargs)


@cache
def _import(path: str) -> Callable:
    module, _, name = path.rpartition(".")
    return getattr(import_module(module), name)


#: The registry: one line per channel, in ``Channel``'s order.
_MODULES = (
    "central.channels.email",
    "central.channels.sms",
    "central.channels.post",
)


@cache
def _specs() -> dict[str, ChannelSpec]:
    specs = {}
    for path in _MODULES:
        spec = import_module(path).SPEC
        if spec.code in specs:
            raise ValueError(f"channel {spec.code!r} declared twice")
        specs[spec.code] = spec
    return specs


def all() -> tuple[ChannelSpec, ...]:
    """Every declared channel, in the registry's order."""
    return tuple(_specs().values())


def codes() -> tuple[str, ...]:
    return tuple(_specs())


def get(code: str) -> ChannelSpec:
    """The spec of channel ``code``; ``UnknownChannel`` if none declares it."""
    try:
        return _specs()[code]
    except (KeyError, TypeError):
        raise UnknownChannel(code) from None


def for_template_kind(kind: str) -> ChannelSpec:
    """The channel a template of ``kind`` sends on; ``UnknownChannel`` if none."""
    for spec in all():
        if kind in spec.template_kinds:
            return spec
    raise UnknownChannel(f"(none for template kind {kind!r})")


def with_matched_address() -> tuple[ChannelSpec, ...]:
    """The channels with one address the suppression list and "one message per address" compare."""
    return tuple(spec for spec in all() if spec.matched_address)


def cost_fields() -> tuple[str, ...]:
    """The ``NetworkRules`` fields pricing the channels, each once, in the registry's order."""
    return tuple(dict.fromkeys(rate.price_field for spec in all() for rate in spec.cost_rates))
