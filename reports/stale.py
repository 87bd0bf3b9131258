"""Stale donor summaries: a run whose PDF names a donor as it may no longer be named.

A donor summary names its own donor and, beside each output, the co-funders that are publicly
acknowledged. Once one of them is renamed or withdraws acknowledgement, the PDF shows what must
no longer be shown: the run is stale. A mailing never sends a stale run: it makes a new one that
supersedes it (`ReportRun.superseded_by`), and the old run's download links serve the new run's
PDF, or nothing while there is none (docs/delivery.md).

The names a run shows are kept with it when it is made (`ReportRun.names_shown`, read from its
snapshot) and compared with the donors as they are now, in one query for any number of runs:
the own donor's name must be unchanged, and every co-funder name must still be the name of an
acknowledged donor. A donor acknowledged later does not make older runs stale: they pooled it
under "Other funders", which names nobody.
"""

import functools
import re

from django.conf import settings
from django.db.models import Q
from django.utils import translation

from donors.models import Donor

from .figures import OTHER_FUNDERS


@functools.cache
def _pooled() -> re.Pattern:
    """The row of the unacknowledged, by count, in any language a summary is written in."""
    labels = set()
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            labels.add(re.escape(translation.gettext(OTHER_FUNDERS)))
    return re.compile(rf"(?:{'|'.join(sorted(labels))}) \(\d+\)")


def names_shown(snapshot: dict | None) -> dict:
    """The donor names a donor summary's snapshot shows; nothing for other reports."""
    if not snapshot or snapshot.get("kind") != "donor_summary":
        return {}
    rows = (row for output in snapshot["outputs"] for row in output["co_funders"])
    co_funders = {row["name"] for row in rows if not _pooled().fullmatch(row["name"])}
    return {"donor": snapshot["donor"]["name"], "co_funders": sorted(co_funders)}


def runs_stale(runs) -> set[int]:
    """The primary keys of the `runs` (done or not) that show a name that may no longer be shown."""
    shown = [run for run in runs if run.names_shown]
    if not shown:
        return set()
    co_funders = set().union(*(run.names_shown["co_funders"] for run in shown))
    rows = Donor.objects.filter(
        Q(pk__in={run.donor_id for run in shown}) | Q(publicly_acknowledged=True, name__in=co_funders)
    ).values_list("pk", "name", "publicly_acknowledged")
    names, acknowledged = {}, set()
    for pk, name, is_acknowledged in rows:
        names[pk] = name
        if is_acknowledged:
            acknowledged.add(name)
    return {
        run.pk
        for run in shown
        if names.get(run.donor_id) != run.names_shown["donor"]
        or not acknowledged.issuperset(run.names_shown["co_funders"])
    }
