"""The PDFs' formatting (reports/renderers/base.py) as template filters, so the HTML version of a
report prints each snapshot value exactly as its PDF does."""

from django import template

from ..renderers.base import fmt_date, fmt_money, fmt_number, fmt_period, fmt_share
from ..renderers.donor_summary import spent_line

register = template.Library()

register.filter("money", fmt_money)
register.filter("day", fmt_date)
register.filter("period", fmt_period)
register.filter("share", fmt_share)
register.filter("number", fmt_number)
register.filter("spent_line", spent_line)  # {{ s|spent_line:o }}: what an output of a donor summary cost
