"""Typed slots: what a branch may fill in a template, and how each value is checked and shown.

Slot values are data: they are validated here, stored as JSON, and inserted into the output
escaped for its context (HTML or plain text) — never parsed as template source.
"""

from __future__ import annotations

import functools
import html
import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit

import nh3
from babel.numbers import list_currencies
from django.core.exceptions import ValidationError
from django.utils import formats
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from local_stores.money import currency as network_currency

SHORT_TEXT, LONG_TEXT, RICH_TEXT = "short_text", "long_text", "rich_text"
IMAGE, DATE, PRICE, URL, CHOICE = "image", "date", "price", "url", "choice"
SLOT_TYPES = {
    SHORT_TEXT: gettext_lazy("Short text"),
    LONG_TEXT: gettext_lazy("Long text"),
    RICH_TEXT: gettext_lazy("Rich text (bold, italic, links)"),
    IMAGE: gettext_lazy("Image from the library"),
    DATE: gettext_lazy("Date"),
    PRICE: gettext_lazy("Price or offer"),
    URL: gettext_lazy("Link"),
    CHOICE: gettext_lazy("Choice from a list"),
}
#: SMS is plain text: no image, no rich text.
SMS_SLOT_TYPES = (SHORT_TEXT, LONG_TEXT, DATE, PRICE, URL, CHOICE)
#: How the common currencies are written after an amount; any other ISO 4217 code is written as is.
CURRENCIES = {"EUR": "€", "CHF": "CHF", "GBP": "£", "USD": "$"}
MAX_LENGTH_CEILING = {SHORT_TEXT: 200, LONG_TEXT: 2000, RICH_TEXT: 4000}
RICH_TAGS = {"b", "strong", "i", "em", "a", "br", "p"}
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass
class SlotDefinition:
    name: str
    type: str
    label: str
    help_text: str = ""
    default: object = None
    required: bool = True
    max_length: int | None = None
    choices: list[str] = field(default_factory=list)
    #: An image slot offers only the library images carrying this tag ("" = any image).
    tag: str = ""

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        if not data["tag"]:  # versions saved before tags keep the same JSON, hence the same content hash
            del data["tag"]
        return data


TAG_MAX_LENGTH = 30


def normalise_tag(raw: object) -> str:
    """One asset tag as the library stores it ("Foire aux vins" → "foire-aux-vins"), like the
    tags of an uploaded image; "" when nothing usable is left."""
    return slugify(str(raw or ""))[:TAG_MAX_LENGTH]


def asset_has_tag(tags: str, tag: str) -> bool:
    """Whether an asset's stored tags (",noel,vins,") include ``tag``."""
    return f",{tag}," in (tags or "")


def images_for(definition: SlotDefinition, assets: Iterable) -> list:
    """The assets an image slot offers: all of them, or those carrying the slot's tag."""
    return [asset for asset in assets if not definition.tag or asset_has_tag(asset.tags, definition.tag)]


def images_offered(definitions: Iterable[SlotDefinition], assets: Iterable) -> list:
    """The assets at least one image slot of ``definitions`` offers, in their order (what a page
    shows as "images of the library" beside the slots)."""
    image_slots = [definition for definition in definitions if definition.type == IMAGE]
    return [
        asset
        for asset in assets
        if any(not d.tag or asset_has_tag(asset.tags, d.tag) for d in image_slots)
    ]


def parse_definitions(raw: Iterable[Mapping[str, object]], *, kind: str) -> list[SlotDefinition]:
    """Check a template's slot declarations; raises ValidationError listing every problem."""
    problems: list[str] = []
    definitions: list[SlotDefinition] = []
    seen: set[str] = set()
    for position, item in enumerate(raw, start=1):
        name = str(item.get("name", "")).strip()
        slot_type = str(item.get("type", "")).strip()
        label = str(item.get("label", "")).strip() or name
        where = _("Slot %(position)d (%(name)s)") % {"position": position, "name": name or "?"}
        if not _NAME.match(name):
            problems.append(
                where + ": " + _("the name is lowercase letters, digits and _, starting with a letter.")
            )
        elif name in seen:
            problems.append(where + ": " + _("two slots have this name."))
        seen.add(name)
        allowed_types = SMS_SLOT_TYPES if kind == "sms" else tuple(SLOT_TYPES)
        if slot_type not in allowed_types:
            problems.append(
                where + ": " + _("the type must be one of %(types)s.") % {"types": ", ".join(allowed_types)}
            )
            continue
        max_length = item.get("max_length")
        if slot_type in MAX_LENGTH_CEILING:
            ceiling = MAX_LENGTH_CEILING[slot_type]
            try:
                max_length = int(max_length) if max_length not in (None, "") else ceiling
            except (TypeError, ValueError):
                max_length = 0
            if not 1 <= max_length <= ceiling:
                problems.append(
                    where
                    + ": "
                    + _("the maximum length is a number from 1 to %(ceiling)d.") % {"ceiling": ceiling}
                )
        else:
            max_length = None
        choices = [str(choice).strip() for choice in item.get("choices") or [] if str(choice).strip()]
        texts = [label, str(item.get("help_text", "")), *choices]
        if isinstance(item.get("default"), str):
            texts.append(item["default"])
        if any(_CONTROL.search(text) for text in texts):  # PostgreSQL's JSON refuses a NUL: a 500, not a message
            problems.append(_("%(label)s: the text contains control characters.") % {"label": where})
            continue
        if slot_type == CHOICE and len(choices) < 2:
            problems.append(where + ": " + _("a choice needs at least two options."))
        raw_tag = str(item.get("tag") or "").strip()
        tag = normalise_tag(raw_tag)
        if raw_tag and slot_type != IMAGE:
            problems.append(where + ": " + _("only an image slot can be limited to a tag."))
        elif raw_tag and (not tag or re.search(r"[,|]", raw_tag)):
            problems.append(
                where + ": " + _("the tag is one tag of the library, such as “foire-aux-vins”.")
            )
        definitions.append(
            SlotDefinition(
                name=name,
                type=slot_type,
                label=label[:80],
                help_text=str(item.get("help_text", ""))[:300],
                default=item.get("default") if item.get("default") not in ("", None) else None,
                required=bool(item.get("required", True)),
                max_length=max_length,
                choices=choices,
                tag=tag if slot_type == IMAGE else "",
            )
        )
    if problems:
        raise ValidationError(problems)
    return definitions


@dataclass(frozen=True)
class Guardrails:
    """A network's content rules, checked whenever a slot is filled."""

    forbidden: tuple[tuple[str, re.Pattern], ...] = ()
    allowed_domains: tuple[str, ...] = ()

    @classmethod
    def from_text(cls, forbidden_patterns: str, allowed_domains: str) -> Guardrails:
        patterns = tuple(
            (line.strip(), re.compile(line.strip(), re.IGNORECASE))
            for line in forbidden_patterns.splitlines()
            if line.strip()
        )
        domains = tuple(
            line.strip().lower().lstrip(".") for line in allowed_domains.splitlines() if line.strip()
        )
        return cls(patterns, domains)

    def check_text(self, text: str, label: str) -> None:
        for pattern_text, pattern in self.forbidden:
            match = pattern.search(text)
            if match:
                raise ValidationError(
                    _("%(label)s: “%(part)s” is not allowed by the network's rules (rule “%(rule)s”).")
                    % {"label": label, "part": match.group(0), "rule": pattern_text}
                )

    def check_url(self, url: str, label: str) -> str:
        """The URL if it is an http(s) link to an allowed domain; ValidationError otherwise."""
        url = url.strip()
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValidationError(
                _("%(label)s: only http and https links are allowed (“%(url)s”).")
                % {"label": label, "url": url[:80]}
            )
        host = parts.hostname.lower()
        if _is_internal(host):
            raise ValidationError(
                _("%(label)s: links to internal addresses are not allowed (“%(host)s”).")
                % {"label": label, "host": host}
            )
        if self.allowed_domains and not any(
            host == d or host.endswith("." + d) for d in self.allowed_domains
        ):
            raise ValidationError(
                _(
                    "%(label)s: the domain “%(host)s” is not among the network's allowed link domains (%(domains)s)."
                )
                % {"label": label, "host": host, "domains": ", ".join(self.allowed_domains)}
            )
        return url


def _is_internal(host: str) -> bool:
    if host in {"localhost", "metadata.google.internal"} or host.endswith(
        (".localhost", ".local", ".internal")
    ):
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return address.is_private or address.is_loopback or address.is_link_local or address.is_reserved


def _plain(value: object, label: str, max_length: int, guardrails: Guardrails, *, multiline: bool) -> str:
    text = str(value if value is not None else "").replace("\r\n", "\n").replace("\r", "\n").strip()  # a lone CR breaks a line too
    if _CONTROL.search(text):
        raise ValidationError(_("%(label)s: the text contains control characters.") % {"label": label})
    if not multiline and "\n" in text:
        raise ValidationError(_("%(label)s: one line only.") % {"label": label})
    if len(text) > max_length:
        raise ValidationError(
            _("%(label)s: %(length)d characters, %(max)d at most.")
            % {"label": label, "length": len(text), "max": max_length}
        )
    guardrails.check_text(text, label)
    return text


def clean_value(
    definition: SlotDefinition,
    raw: object,
    *,
    guardrails: Guardrails,
    asset_ids: Iterable[str] = (),
    asset_tags: Mapping[str, str] | None = None,
) -> object:
    """The stored form of a slot value, or ValidationError naming the slot and the problem.
    ``None`` for an empty optional slot. ``asset_tags`` (stored tags by asset id) is needed by an
    image slot limited to a tag: without it, no image passes such a slot."""
    label = definition.label
    empty = raw is None or raw == "" or (isinstance(raw, Mapping) and not str(raw.get("amount", "")).strip())
    if empty:
        if definition.required:
            raise ValidationError(_("%(label)s: this slot is required.") % {"label": label})
        return None
    cleaner = _CLEANERS.get(definition.type)
    if cleaner is None:
        raise ValidationError(_("%(label)s: unknown slot type.") % {"label": label})
    return cleaner(definition, raw, guardrails, asset_ids, asset_tags)


# One cleaner per slot type, all called as (definition, raw, guardrails, asset_ids, asset_tags) with
# a value that is not empty: the stored form of the value, or ValidationError naming the slot.


def _clean_plain(definition: SlotDefinition, raw: object, guardrails: Guardrails, asset_ids, asset_tags) -> str:
    slot_type = definition.type
    return _plain(
        raw,
        definition.label,
        definition.max_length or MAX_LENGTH_CEILING[slot_type],
        guardrails,
        multiline=slot_type == LONG_TEXT,
    )


def _clean_rich_text(definition: SlotDefinition, raw: object, guardrails: Guardrails, asset_ids, asset_tags) -> str:
    label = definition.label
    links: list[str] = []

    def keep_link(element: str, attribute: str, value: str) -> str | None:
        if element == "a" and attribute == "href":
            links.append(value)
        return value

    cleaned = nh3.clean(
        str(raw),
        tags=RICH_TAGS,
        attributes={"a": {"href"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
        attribute_filter=keep_link,
    ).strip()
    text = nh3.clean(cleaned, tags=set())
    if len(cleaned) > (definition.max_length or MAX_LENGTH_CEILING[RICH_TEXT]):
        raise ValidationError(_("%(label)s: the text is too long.") % {"label": label})
    guardrails.check_text(html.unescape(text), label)
    for link in links:
        if not link.startswith("mailto:"):
            guardrails.check_url(link, label)
    if (
        re.search(r"href\s*=\s*[\"']?\s*javascript:", str(raw), re.IGNORECASE)
        and "javascript:" in cleaned
    ):
        raise ValidationError(_("%(label)s: javascript links are not allowed.") % {"label": label})
    return cleaned


def _clean_image(definition: SlotDefinition, raw: object, guardrails: Guardrails, asset_ids, asset_tags) -> str:
    label = definition.label
    value = str(raw).strip()
    if value not in set(asset_ids):
        raise ValidationError(_("%(label)s: choose an image of the asset library.") % {"label": label})
    if definition.tag and not asset_has_tag((asset_tags or {}).get(value, ""), definition.tag):
        raise ValidationError(
            _("%(label)s: choose an image tagged “%(tag)s”.") % {"label": label, "tag": definition.tag}
        )
    return value


def _clean_date(definition: SlotDefinition, raw: object, guardrails: Guardrails, asset_ids, asset_tags) -> str:
    try:
        return (raw if isinstance(raw, date) else date.fromisoformat(str(raw).strip())).isoformat()
    except ValueError as error:
        raise ValidationError(
            _("%(label)s: a date is written YYYY-MM-DD.") % {"label": definition.label}
        ) from error


def _clean_price(
    definition: SlotDefinition, raw: object, guardrails: Guardrails, asset_ids, asset_tags
) -> dict[str, str]:
    label = definition.label
    data = raw if isinstance(raw, Mapping) else {"amount": raw}
    try:
        amount = Decimal(str(data.get("amount", "")).replace(",", ".").replace(" ", ""))
        if not amount.is_finite() or amount < 0 or amount >= Decimal("1e8"):
            raise InvalidOperation
    except InvalidOperation as error:
        raise ValidationError(
            _("%(label)s: the amount is a positive number such as 12.90.") % {"label": label}
        ) from error
    currency = str(data.get("currency") or network_currency()).upper()
    if currency not in _iso_currencies():  # the network's own (any ISO 4217 code its settings accept)
        raise ValidationError(
            _("%(label)s: the currency must be an ISO 4217 code such as %(currency)s.")
            % {"label": label, "currency": network_currency()}
        )
    conditions = _plain(data.get("conditions", ""), label, 300, guardrails, multiline=True)
    return {
        "amount": str(amount.quantize(Decimal("0.01"))),
        "currency": currency,
        "conditions": conditions,
    }


def _clean_url(definition: SlotDefinition, raw: object, guardrails: Guardrails, asset_ids, asset_tags) -> str:
    return guardrails.check_url(str(raw), definition.label)


def _clean_choice(definition: SlotDefinition, raw: object, guardrails: Guardrails, asset_ids, asset_tags) -> str:
    value = str(raw).strip()
    if value not in definition.choices:
        raise ValidationError(
            _("%(label)s: choose one of %(choices)s.")
            % {"label": definition.label, "choices": ", ".join(definition.choices)}
        )
    return value


_CLEANERS = {
    SHORT_TEXT: _clean_plain,
    LONG_TEXT: _clean_plain,
    RICH_TEXT: _clean_rich_text,
    IMAGE: _clean_image,
    DATE: _clean_date,
    PRICE: _clean_price,
    URL: _clean_url,
    CHOICE: _clean_choice,
}


def clean_values(
    definitions: Iterable[SlotDefinition],
    raw_values: Mapping[str, object],
    *,
    guardrails: Guardrails,
    asset_ids: Iterable[str] = (),
    asset_tags: Mapping[str, str] | None = None,
) -> dict[str, object]:
    """Clean every slot (defaults fill what is missing); ValidationError keyed by slot name."""
    asset_ids = set(asset_ids)
    cleaned: dict[str, object] = {}
    errors: dict[str, list[str]] = {}
    for definition in definitions:
        raw = raw_values.get(definition.name, definition.default)
        try:
            cleaned[definition.name] = clean_value(
                definition, raw, guardrails=guardrails, asset_ids=asset_ids, asset_tags=asset_tags
            )
        except ValidationError as error:
            errors[definition.name] = error.messages
    unknown = set(raw_values) - {definition.name for definition in definitions}
    for name in sorted(unknown):
        errors[name] = [_("This template has no slot named “%(name)s”.") % {"name": name}]
    if errors:
        raise ValidationError(errors)
    return cleaned


@functools.cache
def _iso_currencies() -> frozenset[str]:
    return frozenset(list_currencies())


def escape_html(text: str) -> str:
    """HTML-escape, braces included, so that no later template engine can read a value as code."""
    return html.escape(text, quote=True).replace("{", "&#123;").replace("}", "&#125;")


def format_price(value: Mapping[str, str]) -> str:
    amount = formats.number_format(
        Decimal(value["amount"]), decimal_pos=2, use_l10n=True, force_grouping=True
    )
    symbol = CURRENCIES.get(value["currency"], value["currency"])
    return f"{amount}\u00a0{symbol}"


def display(
    definition: SlotDefinition, value: object, *, context: str, asset_url=None, part: str = ""
) -> str:
    """A stored value as it appears in an output: ``context`` is "html" or "text"."""
    if value is None:
        return ""
    slot_type = definition.type
    if slot_type == PRICE:
        text = value["conditions"] if part == "conditions" else format_price(value)
    elif slot_type == DATE:
        text = formats.date_format(date.fromisoformat(value), "DATE_FORMAT", use_l10n=True)
    elif slot_type == IMAGE:
        text = asset_url(value) if asset_url else ""
    elif slot_type == RICH_TEXT:
        if context == "html":  # sanitised HTML; braces escaped like any value
            return value.replace("{", "&#123;").replace("}", "&#125;")
        return html.unescape(nh3.clean(value, tags=set()))
    else:
        text = str(value)
    if context == "html":
        escaped = escape_html(text)
        return escaped.replace("\n", "<br>") if slot_type == LONG_TEXT else escaped
    return text
