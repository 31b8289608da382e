"""The network core's audit trail: one function writes an event, nothing edits or deletes one."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser

from local_stores.models import Network, NetworkEvent, Node


def network_event_record(
    *,
    network: Network,
    action: str,
    actor: AbstractBaseUser | None = None,
    node: Node | None = None,
    subject_user: AbstractBaseUser | None = None,
    details: dict | None = None,
    ip: str | None = None,
) -> NetworkEvent:
    """Append one event. ``details`` hold field names and old/new values of non-personal
    fields — never a secret, never a customer's personal data."""
    if actor is not None and not actor.is_authenticated:
        actor = None
    return NetworkEvent.objects.create(
        network=network, action=action, actor=actor, node=node, subject_user=subject_user,
        details=details or {}, ip=ip or None,
    )


def changed_fields(before: dict, after: dict) -> dict[str, dict[str, object]]:
    """``{field: {"old": …, "new": …}}`` for the fields whose value changed (values as strings)."""
    return {
        field: {"old": _plain(before.get(field)), "new": _plain(value)}
        for field, value in after.items()
        if before.get(field) != value
    }


def _plain(value: object) -> object:
    if value is None or isinstance(value, (bool, int, float, str, list)):
        return value
    return str(value)
