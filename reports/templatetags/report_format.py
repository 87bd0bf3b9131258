"""The PDFs' formatting (reports/renderers/base.py) as template filters, so the HTML version of a
report prints each snapshot value exactly as its PDF does, in the language it is rendered in."""

from django import template

from backoffice.formats import format_day
from backoffice.money import format_rate

from ..renderers.base import fmt_date, fmt_money, fmt_number, fmt_period, fmt_share
from ..renderers.donor_summary import spent_line

register = template.Library()

register.filter("money", fmt_money)
register.filter("day", fmt_date)
register.filter("period", fmt_period)
register.filter("share", fmt_share)
register.filter("number", fmt_number)
register.filter("spent_line", spent_line)  # {{ s|spent_line:o }}: what an output of a donor summary cost
register.filter("rate", format_rate)


@register.filter
def day_long(value) -> str:
    """A date (not a snapshot's ISO string) in full: '6 December 2026', '6 décembre 2026'."""
    return format_day(value, long=True)
