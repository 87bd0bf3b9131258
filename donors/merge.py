"""Merging one donor into another, previewing it, and undoing it.

A merge moves every row that points at the loser (its contacts, pledges, donations, soft credits,
report runs, and whatever else links to a donor: found from the model graph, so a new link moves too) to the
survivor, and leaves the loser in place with `merged_into` set: its reference stays searchable
and its admin page leads to the survivor. Nothing is joined: two pledges stay two pledges
whatever their restrictions and schedules, so no rule of a pledge can break. Rows move by
their donor link only; every other column stays as it was. What follows a moved row (its
instalments, write-offs and allocations) moves with it without being touched.

Posted donations are immutable; their donor link is the one sanctioned exception. The merge
records a `DonorMerge` event listing every row it moves, names the event in its transaction
(`SET LOCAL fundtrace.donor_merge`), and only then relinks the donations. The database trigger
(donors.models.MERGE_RELINK_SQL) lets through an UPDATE of a posted donation only when it
changes nothing but the donor, between that event's two donors, for a donation the event lists.

Undo moves exactly the rows the event lists back to the loser and clears `merged_into`. The kept
per-donor totals (donors.totals) of both donors are rebuilt from the ledger each time; the day
totals, every donation's amounts and every report snapshot are untouched, so every figure that
does not name the two donors is as it was, and report runs made before stay verifiable.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from backoffice.errors import LedgerError
from backoffice.money import format_money

from .models import (
    Contact,
    Donation,
    Donor,
    DonorMerge,
    DonorRelationship,
    DuplicateDismissal,
    Pledge,
    PostedDonorMonthTotal,
    PostedDonorYearTotal,
    SoftCredit,
)
from .totals import donor_totals_rebuild

MERGE_SETTING = "fundtrace.donor_merge"

# Compared field by field in the preview; the survivor's values are kept, the loser's stay on its record.
COMPARED_FIELDS = ("ref", "name", "kind", "country", "preferred_currency", "status", "external_ref", "notes")
# DonorRelationship: a group is Finance's to redraw (merge_refusals); moving it could join a donor to itself.
_NOT_MOVED = {Donor, DonorMerge, DonorRelationship, DuplicateDismissal, PostedDonorMonthTotal, PostedDonorYearTotal}


def donor_links() -> list[tuple[type, str]]:
    """(model, field) of every row that belongs to a donor and moves in a merge.

    Every foreign key to Donor except the merge's own records, the kept totals (rebuilt), the
    change history (which records what was, and stays as it was) and a model that declares
    `merge_keeps_donor` (it records something about that donor, not a row of theirs).
    """
    links = []
    for relation in Donor._meta.get_fields(include_hidden=True):  # hidden: links with related_name="+"
        model = relation.related_model
        if not relation.one_to_many or model in _NOT_MOVED or hasattr(model, "instance_type"):
            continue  # instance_type: a simple-history model
        if getattr(model, "merge_keeps_donor", False):
            continue  # a higher app's record of that donor itself (privacy's erasure requests)
        links.append((model, relation.field.name))
    return sorted(links, key=lambda link: link[0]._meta.label_lower)


@dataclass
class FieldLine:
    label: str
    survivor: str
    loser: str

    @property
    def same(self) -> bool:
        return self.survivor == self.loser


@dataclass
class MoveGroup:
    label: str  # "donors.pledge"
    name: str  # "pledges"
    rows: list[str]

    @property
    def count(self) -> int:
        return len(self.rows)


@dataclass
class MergePreview:
    survivor: Donor
    loser: Donor
    fields: list[FieldLine]
    moves: list[MoveGroup]
    kept: list[str]  # rows that stay with the loser, and why
    notes: list[str]
    refusals: list[str]
    giving: dict[str, str] = field(default_factory=dict)  # posted base-currency giving before and after
    allocations: int = 0  # allocations that follow the moved donations and pledges

    @property
    def allowed(self) -> bool:
        return not self.refusals


def _plan(survivor: Donor, loser: Donor) -> tuple[dict[str, list[int]], dict[str, list[str]]]:
    """The ids to move by model label, and what stays with the loser (by label, with the reason)."""
    moved: dict[str, list[int]] = {}
    kept: dict[str, list[str]] = {}
    survivor_emails = set(survivor.contacts.values_list("email", flat=True))
    for model, name in donor_links():
        rows = model._base_manager.filter(**{name: loser}).order_by("pk")
        if model is Contact:
            staying = rows.filter(email__in=survivor_emails)
            kept[model._meta.label_lower] = [
                f"{c}: stays with {loser.ref}, as {survivor.ref} has a contact with this email" for c in staying
            ]
            rows = rows.exclude(email__in=survivor_emails)
        moved[model._meta.label_lower] = list(rows.values_list("pk", flat=True))
    return moved, kept


def merge_refusals(survivor: Donor, loser: Donor) -> list[str]:
    if survivor.pk == loser.pk:
        return ["A donor cannot be merged into itself: choose two donors."]
    refusals = []
    if loser.merged_into_id:
        refusals.append(f"{loser} was already merged into {loser.merged_into}.")
    if survivor.merged_into_id:
        refusals.append(f"{survivor} was merged into {survivor.merged_into}: merge into that donor instead.")
    if related := DonorRelationship.objects.filter(Q(donor=loser) | Q(parent=loser)).count():
        refusals.append(
            f"{loser} is in a group ({related} relationship{'s' if related > 1 else ''}): give {survivor} the "
            f"relationships it should have on the donor pages, remove {loser}'s, then merge."
        )
    between = SoftCredit.objects.filter(
        Q(donor=loser, donation__donor=survivor) | Q(donor=survivor, donation__donor=loser)
    ).count()
    if between:
        refusals.append(
            f"{between} soft credit{'s' if between > 1 else ''} between {survivor} and {loser}: merged, the donor "
            "would credit itself. Remove them on the donation pages, then merge."
        )
    return refusals


def _giving(donor_ids) -> Decimal:
    total = Donation.objects.posted().filter(donor_id__in=donor_ids).aggregate(s=Sum("base_amount"))["s"]
    return total or Decimal("0.00")


def donor_merge_preview(*, survivor: Donor, loser: Donor) -> MergePreview:
    """What `donor_merge` would do: the fields side by side, every row that moves, what stays,
    and the reasons it would be refused."""
    moved, kept = _plan(survivor, loser)
    fields = [
        FieldLine(
            str(Donor._meta.get_field(name).verbose_name).capitalize(),
            str(getattr(survivor, name) or "—"),
            str(getattr(loser, name) or "—"),
        )
        for name in COMPARED_FIELDS
    ]
    moves = []
    for model, _name in donor_links():
        label = model._meta.label_lower
        rows = model._base_manager.filter(pk__in=moved[label]).order_by("pk")
        moves.append(MoveGroup(label, str(model._meta.verbose_name_plural), [str(row) for row in rows]))
    notes = []
    for name in ("kind", "country", "preferred_currency"):
        if getattr(survivor, name) != getattr(loser, name):
            verbose = Donor._meta.get_field(name).verbose_name
            notes.append(f"The {verbose} differs; the survivor's ({getattr(survivor, name)}) is kept.")
    if loser.pledges.exists() and survivor.pledges.exists():
        notes.append("Pledges are moved, never joined: each keeps its restriction, schedule and reference.")
    base = settings.BASE_CURRENCY
    before_survivor, before_loser = _giving([survivor.pk]), _giving([loser.pk])
    donation_ids = moved.get("donors.donation", [])
    moving = Donation.objects.posted().filter(pk__in=donation_ids).aggregate(s=Sum("base_amount"))["s"] or 0
    pledge_ids = moved.get("donors.pledge", [])
    # Allocations point at donations and pledges, not at the donor: they follow without a change.
    allocations = Donation.objects.filter(pk__in=donation_ids).aggregate(n=Count("allocations"))["n"]
    allocations += Pledge.objects.filter(pk__in=pledge_ids).aggregate(n=Count("planned_allocations"))["n"]
    return MergePreview(
        survivor=survivor,
        loser=loser,
        fields=fields,
        moves=moves,
        kept=[line for lines in kept.values() for line in lines],
        notes=notes,
        refusals=merge_refusals(survivor, loser),
        giving={
            "survivor_before": format_money(before_survivor, base),
            "loser_before": format_money(before_loser, base),
            "survivor_after": format_money(before_survivor + moving, base),
            "loser_after": format_money(before_loser - moving, base),
        },
        allocations=allocations,
    )


def _merge_named(merge: DonorMerge) -> None:
    """Name the merge event for the rest of this transaction: what the donation trigger checks."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config(%s, %s, true)", [MERGE_SETTING, str(merge.pk) if merge else ""])


def _relink(merge: DonorMerge, *, to: Donor) -> None:
    links = {model._meta.label_lower: (model, name) for model, name in donor_links()}
    _merge_named(merge)
    try:
        for label, ids in merge.moved.items():
            if not ids:
                continue
            model, name = links[label]
            rows = model._base_manager.filter(pk__in=ids)
            if model is Donation:
                Donation.objects.filter(pk__in=ids).donor_relink(donor_id=to.pk)
            else:
                rows.update(**{name: to})
    finally:
        _merge_named(None)


@transaction.atomic
def donor_merge(*, survivor: Donor, loser: Donor, by, reason: str = "") -> DonorMerge:
    """Merge `loser` into `survivor` (the module's docstring), or raise LedgerError with the reasons it cannot be."""
    locked = Donor.objects.select_for_update().in_bulk([survivor.pk, loser.pk])
    survivor, loser = locked[survivor.pk], locked[loser.pk]
    refusals = merge_refusals(survivor, loser)
    if refusals:
        raise LedgerError(refusals)
    moved, kept = _plan(survivor, loser)
    merge = DonorMerge(
        survivor=survivor,
        loser=loser,
        moved=moved,
        kept=kept,
        loser_fields={name: str(getattr(loser, name)) for name in COMPARED_FIELDS},
        reason=reason,
        merged_by=by,
    )
    merge.full_clean()
    merge.save()
    _relink(merge, to=survivor)
    loser.merged_into = survivor
    loser._history_user = by
    loser.save(update_fields=["merged_into"])
    donor_totals_rebuild(donor_ids=[survivor.pk, loser.pk])
    return merge


def undo_refusals(merge: DonorMerge) -> list[str]:
    if merge.undone_at:
        return [f"This merge was undone on {merge.undone_at:%Y-%m-%d %H:%M}."]
    refusals = []
    links = {model._meta.label_lower: (model, name) for model, name in donor_links()}
    for label, ids in merge.moved.items():
        model, name = links[label]
        elsewhere = model._base_manager.filter(pk__in=ids).exclude(**{name: merge.survivor_id})
        if elsewhere.exists():
            refusals.append(
                f"{elsewhere.count()} of the moved {model._meta.verbose_name_plural} no longer belong to "
                f"{merge.survivor} (a later merge moved them): undo that merge first."
            )
    later = Donation.objects.filter(
        pledge_id__in=merge.moved.get("donors.pledge", []), donor_id=merge.survivor_id
    ).exclude(pk__in=merge.moved.get("donors.donation", []))
    if later.exists():
        refs = ", ".join(later.order_by("reference").values_list("reference", flat=True)[:5])
        refusals.append(
            f"Donations recorded against the moved pledges since the merge ({refs}) belong to {merge.survivor}; "
            "a pledge and its donations must share a donor, so the pledges cannot go back. Reverse them first."
        )
    return refusals


@transaction.atomic
def donor_merge_undo(*, merge: DonorMerge, by) -> DonorMerge:
    """Move every row the merge moved back to the loser and restore the loser; or raise LedgerError with the reasons."""
    merge = DonorMerge.objects.select_for_update().select_related("survivor", "loser").get(pk=merge.pk)
    list(Donor.objects.select_for_update().filter(pk__in=[merge.survivor_id, merge.loser_id]).order_by("pk"))
    refusals = undo_refusals(merge)
    if refusals:
        raise LedgerError(refusals)
    _relink(merge, to=merge.loser)
    loser = merge.loser
    loser.merged_into = None
    loser._history_user = by
    loser.save(update_fields=["merged_into"])
    merge.undone_at = timezone.now()
    merge.undone_by = by
    merge.save(update_fields=["undone_at", "undone_by"])
    donor_totals_rebuild(donor_ids=[merge.survivor_id, merge.loser_id])
    return merge


def donor_resolve(donor: Donor) -> Donor:
    """The donor a record now stands for: itself, or the survivor its merges lead to."""
    seen = set()
    while donor.merged_into_id and donor.pk not in seen:
        seen.add(donor.pk)
        donor = donor.merged_into
    return donor


def donor_ids_resolve(merged_into: dict[int, int | None]) -> dict[int, int]:
    """{donor id: the id of the donor it now stands for} for donors given with their `merged_into_id`:
    `donor_resolve` for many at once, one query per merge step (imports naming a merged donor's reference)."""
    links = {pk: into for pk, into in merged_into.items() if into}
    known = set(merged_into)
    wanted = set(links.values()) - known
    while wanted:  # a survivor merged in turn: read where it leads
        found = dict(Donor.objects.filter(pk__in=wanted).values_list("pk", "merged_into_id"))
        known |= wanted
        links |= {pk: into for pk, into in found.items() if into}
        wanted = {into for into in found.values() if into} - known
    resolved = {}
    for pk in merged_into:
        at, seen = pk, set()
        while at in links and at not in seen:
            seen.add(at)
            at = links[at]
        resolved[pk] = at
    return resolved
