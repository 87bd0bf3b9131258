"""Who else funded the outputs a donor funded, at a cost per summary that does not grow with them.

A donor summary shows, for each output the donor's received money went to (allocations up to the
period end), the output's total, the donor's part, and the other donors' parts grouped by name:
one row per publicly acknowledged name, largest first, and one "Other funders (n)" row for the
rest. Those groups depend on every allocation to the output, so reading them costs as much as
the output has co-funders; a period's mailing reads the same groups once per donor.

Here the groups of an output up to a date, over all donors, are read once and kept in this
process (`_kept`) with the `FundingRevision` they were read at. A summary reads its own
outputs and parts with the revision in one statement (`_own_read`), takes the groups kept at that
same revision, and subtracts its own part from its own group; outputs with none kept at that
revision are read anew (`_groups_read`, in one statement with the donor's own part of each group,
so each output's figures come from one snapshot). A revision equal to the one kept means nothing
that changes these groups has committed since they were read (FundingRevision's triggers).

Outputs taken as kept reflect the first statement's snapshot, outputs read anew the second's: if
a change to funding commits between the two, outputs of one summary can reflect moments a few
milliseconds apart (each output's figures are consistent in themselves), as the summary's other
sections, read in statements of their own at READ COMMITTED, already can.
"""

import datetime as dt
import threading
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection

from backoffice.money import money_round
from backoffice.sql import money_from_db, prepared_cursor
from donors.models import Donation, Donor
from grants.models import Allocation, FundingRevision, Output
from grants.selectors import DonorOutputFunding, share_of

ZERO = Decimal("0.00")
KEPT_GROUPS_MAX = 50_000  # groups kept at most over all (output, date) pairs; all are dropped when it is reached


@dataclass(frozen=True)
class OutputGroups:
    """An output's received allocations up to a date, over all donors, by donor name and acknowledgement."""

    total: Decimal
    acknowledged: dict[str, Decimal]  # name -> amount, every acknowledged name
    others: dict[str, Decimal]  # name -> amount, every other name
    others_positive_total: Decimal  # over the `others` with an amount above zero
    others_positive_count: int
    acknowledged_shown: tuple[tuple[str, Decimal], ...]  # above zero, largest first, then by name
    name_order: dict[str, int]  # each acknowledged name's place in the database's order of names

    @classmethod
    def of(cls, rows) -> "OutputGroups":
        """From (name, acknowledged, amount) rows, one per group, in the database's order of names
        (its collation, which the earlier single query sorted equal amounts by)."""
        acknowledged = {name: amount for name, ack, amount in rows if ack}
        others = {name: amount for name, ack, amount in rows if not ack}
        positive = [amount for amount in others.values() if amount > 0]
        name_order = {name: place for place, name in enumerate(acknowledged)}
        return cls(
            total=sum((amount for _, _, amount in rows), start=ZERO),
            acknowledged=acknowledged,
            others=others,
            others_positive_total=sum(positive, start=ZERO),
            others_positive_count=len(positive),
            acknowledged_shown=_largest_first(((n, a) for n, a in acknowledged.items() if a > 0), name_order),
            name_order=name_order,
        )

    def without(
        self, name: str, acknowledged: bool, own: Decimal
    ) -> tuple[list[tuple[str, Decimal]], tuple[int, Decimal]]:
        """The co-funders when the donor named `name` (acknowledged or not) and its `own` part are
        left out: the acknowledged names shown, and (count, amount) of the others with an amount
        above zero."""
        shown = list(self.acknowledged_shown)
        count, pooled = self.others_positive_count, self.others_positive_total
        if acknowledged:
            rest = self.acknowledged.get(name, ZERO) - own
            shown = [(n, a) for n, a in shown if n != name]
            if rest > 0:
                shown = list(_largest_first([*shown, (name, rest)], self.name_order))
        else:
            group = self.others.get(name, ZERO)
            rest = group - own
            if group > 0:
                count, pooled = count - 1, pooled - group
            if rest > 0:
                count, pooled = count + 1, pooled + rest
        return shown, (count, pooled)


def _largest_first(pairs, name_order: dict[str, int]) -> tuple[tuple[str, Decimal], ...]:
    return tuple(sorted(pairs, key=lambda pair: (-pair[1], name_order.get(pair[0], len(name_order)))))


@dataclass(frozen=True)
class OwnOutput:
    output_id: int
    title: str
    programme_name: str
    kind: str
    status: str
    start_date: dt.date | None
    end_date: dt.date | None
    own: Decimal


# (output, date) -> (revision, groups); each entry carries its revision, so that a thread reading
# without the lock never takes groups of one revision for another's.
_kept: dict[tuple[int, dt.date], tuple[int, OutputGroups]] = {}
_kept_revision: int | None = None  # the revision of the latest entries: others are dropped when it changes
_kept_groups = 0  # the number of groups in _kept, to bound its memory
_kept_lock = threading.Lock()


def donor_co_funding(donor: Donor, end: dt.date) -> tuple[list[DonorOutputFunding], dict[int, tuple]]:
    """The donor's funded outputs (as `grants.selectors.donor_output_funding(donor=donor, end=end)`
    gives them, in its order) and, per output, (acknowledged names shown, (count, amount) of the
    other co-funders): the other donors' received allocations up to `end`, grouped by name."""
    own_rows, revision, name, acknowledged = _own_read(donor.pk, end)
    groups, missing = {}, []
    for row in own_rows:
        kept = _kept.get((row.output_id, end)) if revision is not None else None
        if kept is not None and kept[0] == revision:
            groups[row.output_id] = (kept[1], name, acknowledged, row.own)
        else:
            missing.append(row.output_id)
    if missing:
        groups.update(_groups_read(donor.pk, missing, end))
    funded, co_funders = [], {}
    for row in own_rows:
        if row.output_id not in groups:
            continue  # no part of the donor's left in the output at the later read
        output_groups, own_name, own_acknowledged, own = groups[row.output_id]
        funded.append(
            DonorOutputFunding(
                output_id=row.output_id, output_title=row.title, programme_name=row.programme_name,
                kind=row.kind, status=row.status, start_date=row.start_date, end_date=row.end_date,
                donor_amount=money_round(own), output_allocated=money_round(output_groups.total),
                share=share_of(own, output_groups.total),
            )
        )  # fmt: skip
        co_funders[row.output_id] = output_groups.without(own_name, own_acknowledged, own)
    return funded, co_funders


def kept_clear() -> None:
    global _kept_groups, _kept_revision
    with _kept_lock:
        _kept.clear()
        _kept_groups, _kept_revision = 0, None


def _tables():
    q = connection.ops.quote_name
    return {
        "allocation": q(Allocation._meta.db_table),
        "donation": q(Donation._meta.db_table),
        "donor": q(Donor._meta.db_table),
        "output": q(Output._meta.db_table),
        "programme": q(Output._meta.get_field("programme").related_model._meta.db_table),
        "revision": _revision_sql(q(FundingRevision._meta.db_table)),
    }


def _revision_sql(table: str) -> str:
    """The revision now, as a scalar subquery; NULL (keep nothing) on PostgreSQL while this
    transaction has changed funding that it has not committed yet (the revision changes at COMMIT)."""
    if connection.vendor == "postgresql":
        return (
            f"(SELECT r.revision FROM {table} r WHERE r.id = 1 "  # noqa: S608 (the model's table name)
            "AND current_setting('fundtrace.funding_changed', true) IS DISTINCT FROM 'on')"
        )
    return f"(SELECT r.revision FROM {table} r WHERE r.id = 1)"  # noqa: S608 (as above)


def _own_read(donor_id: int, end: dt.date) -> tuple[list[OwnOutput], int | None, str, bool]:
    """The outputs the donor's received money went to by `end` (net of reversals, non-zero), in
    `donor_output_funding`'s order, with the revision and the donor's name and acknowledgement,
    all in one statement."""
    sql = """
        SELECT a.output_id, o.title, p.name, o.kind, o.status, o.start_date, o.end_date, SUM(a.amount),
               {revision}, dn.name, dn.publicly_acknowledged
        FROM {allocation} a JOIN {donation} d ON d.id = a.donation_id JOIN {donor} dn ON dn.id = d.donor_id
             JOIN {output} o ON o.id = a.output_id JOIN {programme} p ON p.id = o.programme_id
        WHERE d.donor_id = %(donor)s AND a.allocated_on <= %(end)s
        GROUP BY a.output_id, o.title, p.name, o.kind, o.status, o.start_date, o.end_date,
                 dn.name, dn.publicly_acknowledged
        HAVING SUM(a.amount) <> 0
        ORDER BY p.name, o.start_date, o.title, a.output_id
    """.format(**_tables())  # noqa: S608 (table names from the models' _meta; values go as parameters)
    with prepared_cursor() as cursor:
        cursor.execute(sql, {"donor": donor_id, "end": end})
        rows = cursor.fetchall()
    if not rows:
        return [], None, "", False
    to_date = connection.ops.convert_datefield_value if connection.vendor == "sqlite" else None
    own = []
    for output_id, title, programme, kind, status, start, finish, amount, _, _, _ in rows:
        if to_date:
            start, finish = to_date(start, None, connection), to_date(finish, None, connection)
        own.append(OwnOutput(output_id, title, programme, kind, status, start, finish, _money(amount)))
    _, _, _, _, _, _, _, _, revision, name, acknowledged = rows[0]
    return own, revision, name, bool(acknowledged)


def _groups_read(donor_id: int, output_ids: list[int], end: dt.date) -> dict[int, tuple]:
    """Read the groups of `output_ids` up to `end` and keep them; with each, the donor's own group
    and part in the same snapshot. Outputs where the donor's part is now zero are left out."""
    params: dict = {"donor": donor_id, "end": end}
    if connection.vendor == "postgresql":
        among, params["outputs"] = "= ANY(%(outputs)s)", list(output_ids)
    else:
        among = "IN ({})".format(", ".join(f"%(output_{i})s" for i in range(len(output_ids))))
        params.update({f"output_{i}": output_id for i, output_id in enumerate(output_ids)})
    sql = """
        SELECT a.output_id, dn.name, dn.publicly_acknowledged, SUM(a.amount),
               SUM(CASE WHEN d.donor_id = %(donor)s THEN a.amount ELSE 0 END),
               MAX(CASE WHEN d.donor_id = %(donor)s THEN 1 ELSE 0 END),
               {revision}
        FROM {allocation} a JOIN {donation} d ON d.id = a.donation_id JOIN {donor} dn ON dn.id = d.donor_id
        WHERE a.allocated_on <= %(end)s AND a.output_id {among}
        GROUP BY a.output_id, dn.name, dn.publicly_acknowledged
        ORDER BY a.output_id, dn.name
    """.format(among=among, **_tables())  # noqa: S608 (as above)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    by_output: dict[int, list] = {output_id: [] for output_id in output_ids}
    own_group: dict[int, tuple[str, bool, Decimal]] = {}
    revision = rows[0][6] if rows else None
    for output_id, name, ack, amount, own, is_own, _ in rows:
        by_output[output_id].append((name, bool(ack), _money(amount)))
        if is_own:
            own_group[output_id] = (name, bool(ack), _money(own))
    found = {}
    for output_id, group_rows in by_output.items():
        groups = OutputGroups.of(group_rows)
        if revision is not None:
            _keep((output_id, end), revision, groups, len(group_rows))
        if output_id in own_group and own_group[output_id][2] != 0:
            found[output_id] = (groups, *own_group[output_id])
    return found


def _money(value) -> Decimal:
    """A summed amount in cents. On SQLite a sum of decimals comes back as a float, which a
    co-funder netted to zero can leave a residue in (2.8e-17, say): rounded off here."""
    return money_round(money_from_db(value))


def _keep(key: tuple[int, dt.date], revision: int, groups: OutputGroups, size: int) -> None:
    global _kept_groups, _kept_revision
    if size > KEPT_GROUPS_MAX:
        return  # read anew each time, rather than pushing everything else out
    with _kept_lock:
        if revision != _kept_revision or _kept_groups + size > KEPT_GROUPS_MAX:
            # Kept at another revision (of no use from now on: revisions do not come back), or full.
            _kept.clear()
            _kept_groups, _kept_revision = 0, revision
        if key not in _kept:
            _kept[key] = (revision, groups)
            _kept_groups += size
