"""Line breaks as they arrive, turned into LF once, at the boundary (see docs/architecture.md,
"Line breaks").

Browsers submit a textarea's line breaks as CRLF (the HTML standard's form submission), API
clients send whatever their platform writes; Relais stores and renders LF only (the MJML parser,
for one, refuses a CR inside ``<mj-head>``). Forms mix in :class:`LineBreaksFormMixin`; the API's
parsers (``config.parsers``) apply :func:`normalise_line_breaks` to what they parsed. This module
imports nothing of the project: every app may use it.
"""

from __future__ import annotations

from django.utils.datastructures import MultiValueDict


def normalise_line_breaks(value):
    """``value`` with every CRLF and lone CR turned into LF: a string, or the strings inside lists,
    tuples, dicts and Django's multi-value dicts (a QueryDict comes back as a QueryDict, as
    immutable as it was). Anything else (numbers, files, None) is returned as it is."""
    if isinstance(value, str):
        return value.replace("\r\n", "\n").replace("\r", "\n") if "\r" in value else value
    if isinstance(value, MultiValueDict):
        if not any(isinstance(item, str) and "\r" in item for _key, items in value.lists() for item in items):
            return value
        copy = value.copy()  # a QueryDict's copy is mutable
        for key, items in copy.lists():
            copy.setlist(key, [normalise_line_breaks(item) for item in items])
        if hasattr(value, "_mutable"):
            copy._mutable = value._mutable
        return copy
    if isinstance(value, dict):
        return {key: normalise_line_breaks(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(normalise_line_breaks(item) for item in value)
    return value


class LineBreaksFormMixin:
    """Put first in a form's bases: the submitted data (``form.data``, which fields, formsets and
    ``slot_values_from`` read) has its line breaks normalised before any field sees it."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.is_bound:
            self.data = normalise_line_breaks(self.data)
