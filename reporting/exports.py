"""The dashboard's table as a file: CSV (streamed) or XLSX (openpyxl, write-only), the same rows
as the page, from the same scoped statistics."""

import io
from collections.abc import Iterable, Iterator

from django.utils.translation import gettext as _
from openpyxl import Workbook

from central.exports import csv_lines, spreadsheet_safe
from reporting.selectors import Totals

RATES = ("delivery_rate", "open_rate", "click_rate", "click_to_open_rate", "unsubscribe_rate", "complaint_rate",
         "bounce_rate", "conversion_rate", "revenue_uplift")


def _header(group: str) -> list[str]:
    return [group, _("audience"), _("sent"), _("delivered"), _("hard bounces"), _("soft bounces"), _("opened"), _("clicked"),
            _("unsubscribed"), _("spam reports"), _("recipients"), _("buyers"), _("attributed revenue"),
            _("control group"), _("buyers in the control group"), _("control group's revenue"),
            _("incremental revenue"), *(rate.replace("_", " ") for rate in RATES)]


def _values(label: str, totals: Totals) -> list:
    return [spreadsheet_safe(label), totals.audience, totals.sent, totals.delivered, totals.bounced_hard, totals.bounced_soft,
            totals.opened, totals.clicked, totals.unsubscribed, totals.complained, totals.recipients, totals.buyers,
            float(totals.revenue), totals.holdout, totals.holdout_buyers, float(totals.holdout_revenue),
            float(totals.incremental_revenue) if totals.incremental_revenue is not None else "",
            *(round(value, 4) if (value := getattr(totals, rate)) is not None else "" for rate in RATES)]


def breakdown_csv(group: str, rows: Iterable[tuple[object, str, Totals]]) -> Iterator[str]:
    return csv_lines(iter([_header(group), *(_values(label, totals) for _key, label, totals in rows)]))


def breakdown_xlsx(group: str, rows: Iterable[tuple[object, str, Totals]]) -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_("Report"))
    sheet.append(_header(group))
    for _key, label, totals in rows:
        sheet.append(_values(label, totals))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
