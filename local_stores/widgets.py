"""Form widgets every app uses. This module imports nothing of the project."""

from __future__ import annotations

from django import forms

#: What a browser's date control (``<input type="date">``) takes and gives, in every language.
ISO_DATE = "%Y-%m-%d"


class DateInput(forms.DateInput):
    """A date field as the browser's own date control: its value always ISO (yyyy-mm-dd), which
    the control shows in the reader's language. Django's default would write the language's first
    input format ("07/11/2026" in French), which a date control cannot show: the field would look
    empty and be posted empty. What is posted back is ISO, which every ``forms.DateField`` accepts
    in every language (Django adds ISO to the language's input formats)."""

    input_type = "date"

    def __init__(self, attrs=None, format=None):
        super().__init__(attrs=attrs, format=format or ISO_DATE)
