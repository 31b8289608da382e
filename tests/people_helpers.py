"""Helpers of the people tests: the world's people as members of their networks."""

from __future__ import annotations

import re

from local_stores.models import Membership

NETWORK_OF = {"other_network_head_office": "beta"}


def with_memberships(world) -> dict[str, Membership]:
    """Give each person of the world a membership of their network (as the demo does)."""
    memberships = {}
    for actor, user in world.users.items():
        if actor == "nobody":
            continue
        network = world.networks[NETWORK_OF.get(actor, "alpha")]
        memberships[actor], _created = Membership.objects.get_or_create(
            user=user, defaults={"network": network, "source": Membership.Source.COMMAND}
        )
    return memberships


def link_in(text: str, path: str) -> str:
    """The path of the first link of ``text`` starting with ``path`` (e.g. /accounts/invitation/)."""
    match = re.search(re.escape(path) + r"[^\s]+", text)
    assert match, text
    return match.group(0)
