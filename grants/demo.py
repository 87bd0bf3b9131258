"""Demo programmes, outputs, indicators, allocations and reporting obligations.

Called by `seed_demo` after the donors ledger is in place, in the same transaction.
Deterministic and idempotent: programmes are keyed by code, outputs by title, indicators by
(output, name); allocations are made only for donations (and pledges) that have none yet,
and obligations only where missing. Allocations go through the services, so every invariant
holds for the demo set. Only pledge payments (`INS-…`) are allocated, so `--donations`
one-off gifts stay unallocated and the run stays quick.
"""

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from backoffice.money import money_round
from donors.models import Donation, Pledge

from . import services
from .models import Allocation, Indicator, Output, Programme
from .selectors import outputs_with_funding

D = dt.date

PROGRAMMES = [
    (
        "INTEL",
        "Threat intelligence and research",
        "The evidence base: the biennial Global Threat Assessment and short research briefs on emerging harms.",
    ),
    (
        "MNR",
        "National response",
        "The Model National Response: a framework for countries' response to online child sexual exploitation "
        "and abuse, its implementation toolkit, and regional workshops that help governments adopt it.",
    ),
    (
        "CONVENE",
        "Convening and policy",
        "The Global Summit and webinars that bring governments, technology companies and civil society together.",
    ),
]

_DOWNLOADS = ("Downloads", "downloads")
_PARTICIPANTS = ("Participants", "people")
_ADOPTING = ("Countries adopting", "countries")
_POLICYMAKERS = ("Policymakers reached", "people")

# programme, kind, title, start, end, location, status, budget (GBP), indicators
# (name, unit, target, actual or None)
OUTPUTS = [
    (
        "INTEL", "resource", "Global Threat Assessment 2023", D(2022, 9, 1), D(2023, 10, 17), "", "delivered",
        "900000", [(*_DOWNLOADS, 50000, 61240), (*_POLICYMAKERS, 2000, 2350)],
    ),
    (
        "INTEL", "resource", "Global Threat Assessment 2025", D(2024, 9, 1), D(2025, 11, 18), "", "delivered",
        "1050000", [(*_DOWNLOADS, 60000, 48310), (*_POLICYMAKERS, 2500, 1980)],
    ),
    (
        "INTEL", "resource", "Global Threat Assessment 2027", D(2026, 9, 1), D(2027, 11, 16), "", "planned",
        "1600000", [(*_DOWNLOADS, 70000, None)],
    ),
    (
        "INTEL", "resource", "Research brief: financially motivated sextortion", D(2024, 2, 1), D(2024, 6, 30), "",
        "delivered", "140000", [(*_DOWNLOADS, 8000, 11420)],
    ),
    (
        "INTEL", "resource", "Research brief: AI-generated child sexual abuse material", D(2025, 3, 1),
        D(2025, 9, 30), "", "delivered", "160000", [(*_DOWNLOADS, 8000, 9875), (*_POLICYMAKERS, 400, 520)],
    ),
    (
        "INTEL", "resource", "Research brief: livestreamed child sexual abuse", D(2026, 6, 1), D(2027, 1, 31), "",
        "in_progress", "150000", [(*_DOWNLOADS, 8000, None)],
    ),
    (
        "MNR", "resource", "Model National Response framework, second edition", D(2023, 1, 1), D(2024, 12, 31), "",
        "delivered", "750000", [(*_ADOPTING, 40, 27), (*_DOWNLOADS, 20000, 23950)],
    ),
    (
        "MNR", "resource", "Model National Response implementation toolkit", D(2024, 6, 1), D(2026, 12, 31), "",
        "in_progress", "900000", [(*_ADOPTING, 25, 9), (*_DOWNLOADS, 10000, 4210)],
    ),
    (
        "MNR", "event", "Regional workshop: East Africa", D(2024, 3, 12), D(2024, 3, 14), "Nairobi, Kenya",
        "delivered", "180000", [(*_PARTICIPANTS, 120, 134), (*_POLICYMAKERS, 60, 71), (*_ADOPTING, 6, 4)],
    ),
    (
        "MNR", "event", "Regional workshop: Southeast Asia", D(2025, 5, 20), D(2025, 5, 22), "Manila, Philippines",
        "delivered", "190000", [(*_PARTICIPANTS, 120, 118), (*_POLICYMAKERS, 60, 64)],
    ),
    (
        "MNR", "event", "Regional workshop: Latin America", D(2026, 4, 21), D(2026, 4, 23), "Bogotá, Colombia",
        "delivered", "200000", [(*_PARTICIPANTS, 120, 141), (*_POLICYMAKERS, 60, 58)],
    ),
    (
        "MNR", "event", "Regional workshop: Central Asia", D(2025, 9, 16), D(2025, 9, 18), "Almaty, Kazakhstan",
        "cancelled", "170000", [(*_PARTICIPANTS, 100, None)],
    ),
    (
        "CONVENE", "event", "Global Summit 2024", D(2024, 11, 19), D(2024, 11, 21), "Abu Dhabi, United Arab Emirates",
        "delivered", "1400000", [(*_PARTICIPANTS, 800, 912), (*_POLICYMAKERS, 300, 341)],
    ),
    (
        "CONVENE", "event", "Global Summit 2026", D(2026, 12, 8), D(2026, 12, 10), "Brussels, Belgium",
        "in_progress", "2400000", [(*_PARTICIPANTS, 900, None), (*_POLICYMAKERS, 350, None)],
    ),
    (
        "CONVENE", "event", "Webinar series: safety by design for technology companies", D(2025, 1, 15),
        D(2025, 12, 10), "Online", "delivered", "90000", [(*_PARTICIPANTS, 1500, 1720)],
    ),
    (
        "CONVENE", "event", "Webinar: briefing for policymakers on online grooming", D(2026, 2, 11), D(2026, 2, 11),
        "Online", "delivered", "35000", [(*_PARTICIPANTS, 300, 277), (*_POLICYMAKERS, 150, 163)],
    ),
]  # fmt: skip

# Pledges restricted before anything is allocated: ref → ("programme", code) or ("output", title).
RESTRICTIONS = {
    "PLG-0002": ("programme", "MNR"),
    "PLG-0008": ("output", "Global Threat Assessment 2025"),
    "PLG-0013": ("output", "Regional workshop: Southeast Asia"),
    "PLG-0018": ("output", "Global Summit 2024"),
    "PLG-0039": ("programme", "INTEL"),
    "PLG-0041": ("output", "Global Summit 2026"),
}

# Planned allocations: pledge ref → (output title, share of the pledge's base-currency cap).
PLANS = {
    "PLG-0014": ("Global Threat Assessment 2027", Decimal("0.40")),
    "PLG-0015": ("Model National Response implementation toolkit", Decimal("0.30")),
    "PLG-0041": ("Global Summit 2026", Decimal("0.60")),
    "PLG-0012": ("Research brief: livestreamed child sexual abuse", Decimal("0.25")),
}

UNALLOCATED_SHARE = 0.2  # about a fifth of pledge payments are left for finance to allocate
DIRECT_SHARE = 0.3  # about a third are allocated by hand to one output; the rest auto-allocated


def seed_grants(*, rng, by) -> dict:
    counts = {"programmes": _programmes(), "outputs": _outputs()}
    counts["indicators"] = _indicators()
    counts["restricted pledges"] = _restrict()
    counts["allocations"] = _allocate(rng, by)
    counts["planned allocations"] = _plan(by)
    counts["reporting obligations"] = _obligations(rng)
    return counts


def _programmes() -> int:
    existing = set(Programme.objects.values_list("code", flat=True))
    new = [Programme(code=c, name=n, description=d) for c, n, d in PROGRAMMES if c not in existing]
    Programme.objects.bulk_create(new)
    return len(new)


def _outputs() -> int:
    programmes = dict(Programme.objects.values_list("code", "id"))
    existing = set(Output.objects.values_list("title", flat=True))
    new = []
    for code, kind, title, start, end, location, status, budget, _ in OUTPUTS:
        if title in existing:
            continue
        slug = title.lower().replace(":", "").replace(",", "").replace(" ", "-")
        output = Output(
            programme_id=programmes[code],
            kind=kind,
            title=title,
            start_date=start,
            end_date=end,
            location=location,
            status=status,
            budget=Decimal(budget),
            public_url=f"https://alliance.example.org/{'events' if kind == 'event' else 'resources'}/{slug}",
        )
        output.full_clean()
        new.append(output)
    Output.objects.bulk_create(new)
    return len(new)


def _indicators() -> int:
    outputs = dict(Output.objects.values_list("title", "id"))
    existing = set(Indicator.objects.values_list("output_id", "name"))
    new = []
    for _, _, title, _, end, _, _, _, indicators in OUTPUTS:
        for name, unit, target, actual in indicators:
            if (outputs[title], name) in existing:
                continue
            measured = actual is not None
            new.append(
                Indicator(
                    output_id=outputs[title],
                    name=name,
                    unit=unit,
                    baseline=Decimal("0"),
                    target=Decimal(target),
                    actual=Decimal(actual) if measured else None,
                    as_of=min(end + dt.timedelta(days=90), D(2026, 10, 31)) if measured else None,
                )
            )
    Indicator.objects.bulk_create(new)
    return len(new)


def _restrict() -> int:
    """Restrict a few pledges, only while nothing has been allocated from them."""
    programmes = {p.code: p for p in Programme.objects.all()}
    outputs = {o.title: o for o in Output.objects.all()}
    changed = 0
    for pledge in Pledge.objects.filter(ref__in=RESTRICTIONS).order_by("ref"):
        kind, key = RESTRICTIONS[pledge.ref]
        programme = programmes[key] if kind == "programme" else None
        output = outputs[key] if kind == "output" else None
        if (pledge.restricted_programme_id, pledge.restricted_output_id) == (
            programme and programme.pk,
            output and output.pk,
        ):
            continue
        if Allocation.objects.filter(donation__pledge=pledge).exists() or pledge.planned_allocations.exists():
            continue
        pledge.restricted_programme, pledge.restricted_output = programme, output
        pledge.full_clean()
        pledge.save()
        changed += 1
    return changed


def _allocate(rng, by) -> int:
    donations = (
        Donation.objects.posted()
        .filter(reference__startswith="INS-", reversal_of__isnull=True, reversed_by__isnull=True)
        .select_related("pledge")
        .order_by("received_on", "reference")
    )
    already = set(Allocation.objects.filter(donation__isnull=False).values_list("donation_id", flat=True))
    made = 0
    for donation in donations:
        # Drawn for every donation, so a rerun stays in step with the first run.
        way, pick, share = rng.random(), rng.random(), rng.choice((Decimal("0.5"), Decimal("0.6"), Decimal("0.75")))
        if donation.pk in already or way < UNALLOCATED_SHARE:
            continue
        amount = money_round(donation.base_amount * share)
        # By hand, finance picks an output the amount fits in; where none fits, it auto-allocates.
        fits = list(
            outputs_with_funding(services.allowed_outputs(pledge=donation.pledge))
            .filter(gap__gte=amount)
            .order_by("pk")
        )
        if way < UNALLOCATED_SHARE + DIRECT_SHARE and fits:
            output = fits[int(pick * len(fits))]
            services.allocation_create(
                donation=donation, output=output, amount=amount, by=by, on=donation.received_on, note="Demo"
            )
            made += 1
        else:
            made += len(services.donation_auto_allocate(donation=donation, by=by, on=donation.received_on))
    return made


def _plan(by) -> int:
    outputs = {o.title: o for o in Output.objects.all()}
    made = 0
    for pledge in Pledge.objects.filter(ref__in=PLANS).order_by("ref"):
        if pledge.planned_allocations.exists():
            continue
        title, share = PLANS[pledge.ref]
        amount = money_round(services.pledge_plan_cap(pledge) * share)
        services.allocation_plan(pledge=pledge, output=outputs[title], amount=amount, by=by, note="Demo plan")
        made += 1
    return made


def _obligations(rng) -> int:
    """Annual narrative and financial reports for every pledge; most past ones submitted, a few overdue."""
    today = timezone.localdate()
    made = 0
    for pledge in Pledge.objects.filter(cancelled_on__isnull=True).order_by("ref"):
        created = services.obligations_generate(pledge=pledge, days_after=60)
        made += len(created)
        for obligation in created:
            late, days_early = rng.random() < 0.15, rng.randint(0, 20)
            if obligation.due_date >= today or late:
                continue  # still to come, or overdue
            services.obligation_submit(obligation=obligation, on=obligation.due_date - dt.timedelta(days=days_early))
    return made
