"""The two IATI 2.03 files, built with lxml from the ledger: the organisation file and the activities file.

Everything is written in a fixed order (activities by identifier, transactions by date and ledger row),
so the same ledger gives the same bytes; the only time in them is `generated-datetime`, the as-of time
the caller passes. docs/iati.md maps every element to its source.
"""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.utils import timezone
from lxml import etree

from backoffice.models import Organisation
from backoffice.money import money_in_places
from donors.models import Pledge
from grants.models import Output, Programme
from spending.models import BudgetLine, ExpenseCharge

from . import selectors
from .selectors import CORE, ActivityKey, Budget, Transaction

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
FORBIDDEN_IN_IDENTIFIERS = " /&|?"

# IATI ActivityStatus: 1 pipeline, 2 implementation, 3 finalisation, 5 cancelled.
OUTPUT_STATUS = {
    Output.Status.PLANNED: "1",
    Output.Status.IN_PROGRESS: "2",
    Output.Status.DELIVERED: "3",
    Output.Status.CANCELLED: "5",
}
CORE_TITLE = "Core and unrestricted funding"


class IatiBuildError(Exception):
    """The ledger cannot be published as it stands; `messages` says where."""

    def __init__(self, messages: list[str]):
        super().__init__("; ".join(messages))
        self.messages = messages


@dataclass
class IatiFiles:
    activities: bytes
    organisation: bytes
    activity_count: int


def _text(parent, tag: str, text: str, **attrs):
    element = etree.SubElement(parent, tag, **attrs)
    etree.SubElement(element, "narrative").text = text
    return element


def _value(parent, tag: str, amount: Decimal, currency: str, value_date: dt.date, **attrs):
    element = etree.SubElement(parent, tag, **attrs)
    etree.SubElement(element, "value", currency=currency, **{"value-date": value_date.isoformat()}).text = str(
        money_in_places(amount, currency)
    )
    return element


def _number(value: Decimal) -> str:
    """An indicator's figure as written: no trailing zeros, never in exponent form."""
    return format(value.normalize(), "f")


def _bytes(root) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


@dataclass
class Activity:
    key: ActivityKey
    identifier: str
    title: str
    description: str
    status: str
    start: dt.date
    end: dt.date | None
    actual_start: bool
    actual_end: bool
    sector: str
    country: str
    region: str
    public_url: str = ""
    parent: str = ""
    children: tuple[str, ...] = ()
    output: Output | None = None
    actual: tuple[dt.date | None, dt.date | None] = (None, None)  # the output's own dates: its delivery


def _activities(org: Organisation, txns: list[Transaction], budgets: list[Budget], on: dt.date) -> list[Activity]:
    problems = []
    used = {t.activity for t in txns} | {b.activity for b in budgets}
    programmes = Programme.objects.filter(
        pk__in={pk for kind, pk in used if kind == "programme"}
    ) | Programme.objects.filter(outputs__isnull=False)
    outputs_by_programme = defaultdict(list)
    for output in Output.objects.filter(programme__in=programmes).prefetch_related("indicators").order_by("pk"):
        outputs_by_programme[output.programme_id].append(output)
    dates_by_key = defaultdict(list)
    for t in txns:
        dates_by_key[t.activity].append(t.date)
    funded = _funded_periods()
    found = []
    for programme in programmes.distinct().order_by("code"):
        if any(c in programme.code for c in FORBIDDEN_IN_IDENTIFIERS):
            problems.append(
                f"Programme {programme.code!r}: its code cannot be part of an IATI identifier "
                "(no spaces, /, &, | or ?); change the code."
            )
            continue
        base = f"{org.iati_identifier}-{programme.code}"
        outputs = outputs_by_programme[programme.pk]
        children = []
        for output in outputs:
            if output.start_date is None:
                problems.append(f"Output {output.title!r} ({programme.code}) has no start date; IATI needs one.")
                continue
            # The activity runs from the first funding agreement (or the output's start) to the last
            # one's end (or the output's end): money for an event is pledged long before it happens.
            periods = funded[("output", output.pk)]
            start = min([output.start_date, *(p[0] for p in periods)])
            end = max([d for d in (output.end_date, *(p[1] for p in periods)) if d], default=None)
            started = output.status in (Output.Status.IN_PROGRESS, Output.Status.DELIVERED) and output.start_date <= on
            ended = output.status == Output.Status.DELIVERED and output.end_date is not None and output.end_date <= on
            children.append(
                Activity(
                    key=("output", output.pk),
                    identifier=f"{base}-{output.pk}",
                    title=output.title,
                    description=output.description
                    or f"{output.get_kind_display()} of {programme.name}: {output.title}.",
                    status=OUTPUT_STATUS[output.status],
                    start=start,
                    end=end,
                    actual_start=started,
                    actual_end=ended,
                    actual=(output.start_date, output.end_date),
                    sector=programme.sector,
                    country=programme.recipient_country,
                    region=programme.recipient_region,
                    public_url=output.public_url,
                    parent=base,
                    output=output,
                )
            )
        periods = funded[("programme", programme.pk)]
        own = [c.start for c in children] + [p[0] for p in periods]
        ends = [c.end for c in children if c.end] + [p[1] for p in periods]
        if not own:
            problems.append(f"Programme {programme.code}: no output has dates and no money reached it yet.")
            continue
        status = _programme_status({c.status for c in children})
        found.append(
            Activity(
                key=("programme", programme.pk),
                identifier=base,
                title=programme.name,
                description=programme.description or programme.name,
                status=status,
                start=min(own),
                end=max(ends) if ends else None,
                actual_start=False,
                actual_end=False,
                sector=programme.sector,
                country=programme.recipient_country,
                region=programme.recipient_region,
                children=tuple(c.identifier for c in children),
            )
        )
        found += children
    if dates_by_key[CORE] or any(b.activity == CORE for b in budgets):
        days = dates_by_key[CORE] + [d for p in funded[CORE] for d in p]
        days += [dt.date(b.year, m, d) for b in budgets if b.activity == CORE for m, d in ((1, 1), (12, 31))]
        found.append(
            Activity(
                key=CORE,
                identifier=f"{org.iati_identifier}-CORE",
                title=CORE_TITLE,
                description="Money given to the alliance without restriction to a programme or output, and spending "
                "charged to no funder's budget.",
                status="2",
                start=min(days),
                end=max(days),
                actual_start=False,
                actual_end=False,
                sector=Programme._meta.get_field("sector").default,
                country="",
                region=Programme._meta.get_field("recipient_region").default,
            )
        )
    if problems:
        raise IatiBuildError(problems)
    return sorted(found, key=lambda a: a.identifier)


def _funded_periods() -> dict[ActivityKey, list[tuple[dt.date, dt.date]]]:
    """The periods of the pledges and agreements that fund each activity."""
    periods = defaultdict(list)
    for pledge in Pledge.objects.filter(cancelled_on__isnull=True).select_related("agreement").order_by("pk"):
        period = [pledge.start_date, pledge.end_date]
        if agreement := getattr(pledge, "agreement", None):
            period = [min(period[0], agreement.start_date), max(period[1], agreement.end_date)]
        periods[selectors.pledge_activity(pledge)].append(tuple(period))
    # An agreement whose budget lines or charges name an output funds that output for its period.
    lines = BudgetLine.objects.filter(output__isnull=False).values_list(
        "output_id", "version__agreement__start_date", "version__agreement__end_date"
    )
    charges = ExpenseCharge.objects.filter(output__isnull=False).values_list(
        "output_id", "agreement__start_date", "agreement__end_date"
    )
    for output_id, start, end in sorted(set(lines) | set(charges)):
        periods[("output", output_id)].append((start, end))
    return periods


def _programme_status(statuses: set[str]) -> str:
    """A programme is cancelled when every output is, finishing when every live one is delivered,
    in the pipeline while none has started, and being implemented otherwise."""
    live = statuses - {"5"}
    if not live:
        return "5" if statuses else "1"
    if len(live) == 1:
        return live.pop()
    return "2"


def _reporting_org(parent, org: Organisation):
    _text(parent, "reporting-org", org.name, ref=org.iati_identifier, type=org.iati_type)


def _activity_element(
    root, org: Organisation, a: Activity, txns: list[Transaction], budgets: list[Budget], funded_by: list[Transaction]
):
    """`funded_by`: the transactions whose funders the activity names (a programme's and its outputs')."""
    element = etree.SubElement(root, "iati-activity", hierarchy="2" if a.parent else "1")
    element.set("default-currency", settings.BASE_CURRENCY)
    element.set(XML_LANG, "en")
    etree.SubElement(element, "iati-identifier").text = a.identifier
    _reporting_org(element, org)
    _text(element, "title", a.title)
    _text(element, "description", a.description, type="1")  # the schema requires one
    funders = sorted({(t.funder.name, t.funder.type_code) for t in funded_by if t.funder and not t.funder.anonymous})
    for name, type_code in funders:
        _text(element, "participating-org", name, role="1", type=type_code)
    _text(element, "participating-org", org.name, role="4", ref=org.iati_identifier, type=org.iati_type)
    etree.SubElement(element, "activity-status", code=a.status)
    dates = [("1", a.start)] + ([("2", a.actual[0])] if a.actual_start else [])
    if a.end:
        dates += [("3", a.end)] + ([("4", a.actual[1])] if a.actual_end else [])
    for type_code, day in dates:
        etree.SubElement(element, "activity-date", type=type_code, **{"iso-date": day.isoformat()})
    if a.country:
        etree.SubElement(element, "recipient-country", code=a.country, percentage="100")
    else:
        etree.SubElement(element, "recipient-region", code=a.region, vocabulary="1", percentage="100")
    etree.SubElement(element, "sector", code=a.sector, vocabulary="1", percentage="100")
    for b in sorted(budgets, key=lambda b: (b.year, b.currency)):
        budget = etree.SubElement(element, "budget", type="2" if b.revised else "1", status="2")
        start = dt.date(b.year, 1, 1)
        etree.SubElement(budget, "period-start", **{"iso-date": start.isoformat()})
        etree.SubElement(budget, "period-end", **{"iso-date": dt.date(b.year, 12, 31).isoformat()})
        etree.SubElement(budget, "value", currency=b.currency, **{"value-date": start.isoformat()}).text = str(
            money_in_places(b.amount, b.currency)
        )
    for t in sorted(txns, key=lambda t: (t.date, t.type_code, t.sort_key)):
        transaction = etree.SubElement(element, "transaction")
        etree.SubElement(transaction, "transaction-type", code=t.type_code)
        etree.SubElement(transaction, "transaction-date", **{"iso-date": t.date.isoformat()})
        etree.SubElement(
            transaction, "value", currency=t.currency, **{"value-date": t.value_date.isoformat()}
        ).text = str(money_in_places(t.amount, t.currency))
        if t.description:
            _text(transaction, "description", t.description)
        if t.funder is not None:
            if t.funder.anonymous:
                _text(transaction, "provider-org", "Anonymous funder")
            else:
                _text(transaction, "provider-org", t.funder.name, type=t.funder.type_code)
        else:
            _text(transaction, "provider-org", org.name, ref=org.iati_identifier, type=org.iati_type)
    if a.public_url:
        link = etree.SubElement(element, "document-link", format="text/html", url=a.public_url)
        _text(link, "title", a.title)
        etree.SubElement(link, "category", code="A12")  # Activity web page
    if a.parent:
        etree.SubElement(element, "related-activity", ref=a.parent, type="1")
    for child in a.children:
        etree.SubElement(element, "related-activity", ref=child, type="2")
    if a.output is not None:
        _results(element, a)


def _results(element, a: Activity):
    indicators = sorted(a.output.indicators.all(), key=lambda i: i.name)
    if not indicators:
        return
    result = etree.SubElement(element, "result", type="1", **{"aggregation-status": "0"})
    _text(result, "title", a.title)
    for indicator in indicators:
        node = etree.SubElement(result, "indicator", measure="1", ascending="1")
        _text(node, "title", f"{indicator.name} ({indicator.unit})")
        start = a.output.start_date  # results are measured over the output's delivery
        etree.SubElement(node, "baseline", year=str(start.year), value=_number(indicator.baseline))
        end = indicator.as_of if indicator.as_of and indicator.as_of >= start else (a.output.end_date or start)
        period = etree.SubElement(node, "period")
        etree.SubElement(period, "period-start", **{"iso-date": start.isoformat()})
        etree.SubElement(period, "period-end", **{"iso-date": end.isoformat()})
        etree.SubElement(period, "target", value=_number(indicator.target))
        if indicator.actual is not None:
            etree.SubElement(period, "actual", value=_number(indicator.actual))


def _generated(as_of: dt.datetime) -> str:
    return timezone.localtime(as_of, dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def iati_files_build(*, as_of: dt.datetime) -> IatiFiles:
    """The organisation and activities files for the ledger as of `as_of` (unvalidated: see validation.py)."""
    org = Organisation.current()
    if not org.iati_identifier:
        raise IatiBuildError(
            ["The organisation profile has no IATI organisation identifier: set it (e.g. GB-CHC-1234567) first."]
        )
    on = timezone.localdate(as_of)
    txns, budgets = selectors.transactions(on=on), selectors.budgets()
    activities = _activities(org, txns, budgets, on)
    txns_by, budgets_by = defaultdict(list), defaultdict(list)
    for t in txns:
        txns_by[t.activity].append(t)
    for b in budgets:
        budgets_by[b.activity].append(b)
    generated = _generated(as_of)
    root = etree.Element("iati-activities", version="2.03", **{"generated-datetime": generated})
    keys = {a.identifier: a.key for a in activities}
    for a in activities:
        funded_by = txns_by[a.key] + [t for child in a.children for t in txns_by[keys[child]]]
        _activity_element(root, org, a, txns_by[a.key], budgets_by[a.key], funded_by)
    return IatiFiles(
        activities=_bytes(root),
        organisation=_organisation(org, txns, budgets, generated),
        activity_count=len(activities),
    )


def _organisation(org: Organisation, txns: list[Transaction], budgets: list[Budget], generated: str) -> bytes:
    root = etree.Element("iati-organisations", version="2.03", **{"generated-datetime": generated})
    element = etree.SubElement(root, "iati-organisation", **{"default-currency": settings.BASE_CURRENCY})
    element.set(XML_LANG, "en")
    etree.SubElement(element, "organisation-identifier").text = org.iati_identifier
    _text(element, "name", org.name)
    _reporting_org(element, org)
    totals = defaultdict(Decimal)
    for b in budgets:
        totals[(b.year, b.currency)] += b.amount
    for (year, currency), amount in sorted(totals.items()):
        budget = etree.SubElement(element, "total-budget", status="2")
        etree.SubElement(budget, "period-start", **{"iso-date": dt.date(year, 1, 1).isoformat()})
        etree.SubElement(budget, "period-end", **{"iso-date": dt.date(year, 12, 31).isoformat()})
        etree.SubElement(budget, "value", currency=currency, **{"value-date": f"{year}-01-01"}).text = str(
            money_in_places(amount, currency)
        )
    spent = defaultdict(Decimal)
    for t in txns:
        if t.type_code == "4":
            spent[(t.date.year, t.currency)] += t.amount
    for (year, currency), amount in sorted(spent.items()):
        total = etree.SubElement(element, "total-expenditure")
        etree.SubElement(total, "period-start", **{"iso-date": dt.date(year, 1, 1).isoformat()})
        etree.SubElement(total, "period-end", **{"iso-date": dt.date(year, 12, 31).isoformat()})
        etree.SubElement(total, "value", currency=currency, **{"value-date": f"{year}-01-01"}).text = str(
            money_in_places(amount, currency)
        )
    return _bytes(root)
