"""Charts, drawn on the server as SVG by pygal (installed from PyPI; no script, nothing fetched):
each series has its own line style and marker, so that a chart reads without its colours, and
every chart is followed on its page by the table of its figures."""

import pygal
from django.utils import formats
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

#: One dash pattern per series (solid, dashed, dotted…): told apart without colour.
_DASHES = (None, "8, 5", "2, 4", "12, 4, 2, 4")


def _style():
    return pygal.style.Style(background="transparent", plot_background="transparent", font_family="system-ui, sans-serif",
                             colors=("#0d6efd", "#b35c00", "#198754", "#6f42c1"), label_font_size=12,
                             major_label_font_size=12, legend_font_size=13, title_font_size=15)


def over_time(title: str, days: list, series: dict[str, list[int]]) -> SafeString:
    """A line chart of ``series`` ({label: one value per day}) over ``days``, as inline SVG."""
    chart = pygal.Line(title=title, style=_style(), js=[], disable_xml_declaration=True, show_dots=len(days) <= 45,
                       dots_size=3, x_label_rotation=30, show_minor_x_labels=False, truncate_label=-1, height=320,
                       width=900, legend_at_bottom=True, no_data_text=_("No data"), explicit_size=False,
                       value_formatter=lambda value: formats.number_format(value, decimal_pos=0, use_l10n=True,
                                                                               force_grouping=True))
    chart.x_labels = [formats.date_format(day, "j M") for day in days]
    chart.x_labels_major = chart.x_labels[:: max(1, len(days) // 10)]
    for number, (label, values) in enumerate(series.items()):
        dash = _DASHES[number % len(_DASHES)]
        chart.add(label, values, stroke_style={"width": 2.5, **({"dasharray": dash} if dash else {})})
    svg = chart.render(is_unicode=True)
    return mark_safe(svg.replace("<svg ", f'<svg role="img" aria-label="{_escape(title)}" ', 1))  # noqa: S308


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")
