"""The API's request parsers: DRF's own, with every string of the parsed data's line breaks turned
into LF (``local_stores.line_breaks``), so that every serializer field, nested JSON included (slot
values, definitions), receives what the forms receive. Set as DRF's default parsers in
``config/settings/base.py``; a view that names its parsers takes them from here."""

from __future__ import annotations

from rest_framework import parsers

from local_stores.line_breaks import normalise_line_breaks


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        return normalise_line_breaks(super().parse(stream, media_type, parser_context))


class FormParser(parsers.FormParser):
    def parse(self, stream, media_type=None, parser_context=None):
        return normalise_line_breaks(super().parse(stream, media_type, parser_context))


class MultiPartParser(parsers.MultiPartParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parsed = super().parse(stream, media_type, parser_context)
        return parsers.DataAndFiles(normalise_line_breaks(parsed.data), parsed.files)
