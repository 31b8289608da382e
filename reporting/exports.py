"""The dashboard's table as a file: CSV (streamed) or XLSX (openpyxl, write-only), the same rows
as the page, from the same scoped statistics."""

from collections.abc import Iterable, Iterator

from django.utils.translation import gettext as _

from central.spreadsheets import csv_lines, rows_xlsx, spreadsheet_safe
from reporting.selectors import Totals

RATES = ("delivery_rate", "open_rate", "click_rate", "click_to_open_rate", "unsubscribe_rate", "complaint_rate",
         "bounce_rate", "conversion_rate", "revenue_uplift")


def _header(group: str) -> list[str]:
    return [group, _("audience"), _("sent"), _("delivered"), _("hard bounces"), _("soft bounces"), _("opened"), _("clicked"),
            _("unsubscribed"), _("spam reports"), _("recipients"), _("prospects among the recipients"), _("buyers"), _("attributed revenue"),
            _("control group"), _("buyers in the control group"), _("control group's revenue"),
            _("incremental revenue"), *(rate.replace("_", " ") for rate in RATES)]


def _values(label: str, totals: Totals) -> list:
    return [spreadsheet_safe(label), totals.audience, totals.sent, totals.delivered, totals.bounced_hard, totals.bounced_soft,
            totals.opened, totals.clicked, totals.unsubscribed, totals.complained, totals.recipients, totals.prospects, totals.buyers,
            float(totals.revenue), totals.holdout, totals.holdout_buyers, float(totals.holdout_revenue),
            float(totals.incremental_revenue) if totals.incremental_revenue is not None else "",
            *(round(value, 4) if (value := getattr(totals, rate)) is not None else "" for rate in RATES)]


def breakdown_csv(group: str, rows: Iterable[tuple[object, str, Totals]]) -> Iterator[str]:
    return csv_lines(iter([_header(group), *(_values(label, totals) for _key, label, totals in rows)]))


def breakdown_xlsx(group: str, rows: Iterable[tuple[object, str, Totals]]) -> bytes:
    return rows_xlsx(_("Report"), iter([_header(group), *(_values(label, totals) for _key, label, totals in rows)]))


# --- The dashboard's other tables ---------------------------------------------------------------------


def excluded_rows(excluded) -> list[list]:
    return [[_("reason"), _("code"), _("customers")], *([spreadsheet_safe(label), reason, count]
                                                        for reason, label, count in excluded)]


def comparison_rows(comparison) -> list[list]:
    def rate(value):
        return round(value, 4) if value is not None else ""

    return [[_("rate"), _("your branch"), _("lower quartile"), _("median"), _("upper quartile")],
            *([item.rate.replace("_", " "), rate(item.own), rate(item.lower), rate(item.median), rate(item.upper)]
              for item in comparison or [])]


def leaderboard_rows(leaderboard) -> list[list]:
    return [[_("rank"), _("campaign"), _("id"), _("send date"), _("sent"), _("open rate"), _("click rate"),
             _("unsubscribe rate")],
            *([rank, spreadsheet_safe(str(campaign)), campaign.public_id, campaign.send_date.isoformat(), totals.sent,
               round(totals.open_rate or 0, 4), round(totals.click_rate or 0, 4), round(totals.unsubscribe_rate or 0, 4)]
              for rank, (campaign, totals) in enumerate(leaderboard or [], start=1))]


def pressure_rows(pressure) -> list[list]:
    return [[_("messages in a week"), _("customer-weeks"), _("share")],
            *([f"{bucket.contacts}+" if index == len(pressure) - 1 else bucket.contacts, bucket.customer_weeks,
               round(bucket.share, 4) if bucket.share is not None else ""]
              for index, bucket in enumerate(pressure or []))]
