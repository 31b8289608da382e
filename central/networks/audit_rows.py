"""The audit trail's events as people read them (the page, the CSV export and the API share it):
who by full name, the action's label, the place's name, and the details as "field: old → new"
with the fields' labels, never internal ids where a name exists."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.utils.translation import gettext as _

from local_stores.models import Network, NetworkEvent, Role


def person_name(user) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()


def _label(field: str) -> str:
    try:
        return str(Network._meta.get_field(field).verbose_name)
    except FieldDoesNotExist:
        labels = {"role": _("role"), "invitation": _("invitation"), "head_office": _("head office"),
                  "slug": _("short name"), "name": _("name"), "logo": _("logo")}
        return str(labels.get(field, field.replace("_", " ")))


def _value(field: str, value: object) -> str:
    if value in (None, "", []):
        return "—"
    names = dict(Role.choices)
    if field in ("languages", "default_language"):
        names = dict(settings.LANGUAGES)  # the languages by their names
    if isinstance(value, list):
        return ", ".join(str(names.get(item, item)) for item in value)
    if field in ("role", "default_language") or (isinstance(value, str) and field.endswith("roles")):
        return str(names.get(value, value))
    return str(value)


def details_lines(event: NetworkEvent) -> list[str]:
    """Each detail of ``event`` as one readable line: "field: old → new" or "field: value"."""
    details = event.details or {}
    lines: list[str] = []
    fields = details.get("fields")
    if isinstance(fields, dict):
        for field, change in fields.items():
            if isinstance(change, dict) and "old" in change:
                lines.append(f"{_label(field)}: {_value(field, change.get('old'))} → {_value(field, change.get('new'))}")
            else:
                lines.append(_label(field))
    elif isinstance(fields, list):
        lines.append(", ".join(_label(str(field)) for field in fields))
    for key, value in details.items():
        if key == "fields":
            continue
        if isinstance(value, dict) and "old" in value:
            lines.append(f"{_label(key)}: {_value(key, value.get('old'))} → {_value(key, value.get('new'))}")
        else:
            lines.append(f"{_label(key)}: {_value(key, value)}")
    return lines


def event_row(event: NetworkEvent) -> dict[str, object]:
    return {
        "event": event,
        "at": event.at,
        "network": event.network.name,
        "actor": person_name(event.actor) or _("Relais (automatic)"),
        "action": event.get_action_display(),
        "node": event.node.name if event.node else "",
        "subject": person_name(event.subject_user),
        "details": details_lines(event),
    }
