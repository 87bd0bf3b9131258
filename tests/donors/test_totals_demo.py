"""The kept totals on the demo's ledger: what bulk and single posting kept equals what a rebuild
from the ledger gives, and every period's figures equal the ledger's (the demo, seeded once)."""

import datetime as dt

from donors.totals import posted_totals_rebuild
from tests.donors.test_totals import (
    assert_period_figures_match_ledger,
    assert_totals_match_ledger,
    kept_days,
    kept_donor_months,
    kept_donor_years,
)


def test_rebuild_gives_the_totals_the_services_kept(demo_data, db):
    """The demo's pledge payments are posted in bulk, its reversals one by one."""
    assert_totals_match_ledger()
    before = (kept_days(), kept_donor_months(), kept_donor_years())
    posted_totals_rebuild()
    assert (kept_days(), kept_donor_months(), kept_donor_years()) == before
    for start, end in [
        (dt.date(2025, 2, 14), dt.date(2025, 11, 3)),  # months and days
        (dt.date(2025, 1, 1), dt.date(2025, 12, 31)),  # a whole year
        (dt.date(2023, 3, 15), dt.date(2026, 2, 10)),  # days, months, two whole years, months, days
        (dt.date(2025, 6, 3), dt.date(2025, 6, 20)),  # days only
        (dt.date(2026, 1, 1), dt.date(2026, 11, 22)),  # most of a year: the year less its last weeks
        (dt.date(2024, 2, 10), dt.date(2025, 12, 30)),  # two years, each less a few months and days
        (dt.date(2025, 12, 31), dt.date(2025, 12, 30)),  # empty
    ]:
        assert_period_figures_match_ledger(start, end)
