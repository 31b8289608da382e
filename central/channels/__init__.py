"""The channels (e-mail, SMS, post…): one module each, listed in ``registry``. See
``central.channels.registry`` and docs/architecture.md, "A new channel"."""

from central.channels.registry import (
    ChannelSpec,
    CostRate,
    UnknownChannel,
    all,
    codes,
    for_template_kind,
    get,
)

__all__ = ["ChannelSpec", "CostRate", "UnknownChannel", "all", "codes", "for_template_kind", "get"]
