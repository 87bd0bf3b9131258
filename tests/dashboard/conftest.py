import datetime as dt

import pytest

from tests.reports.conftest import END, START, reports_demo_data

__all__ = ["END", "START", "dashboard_demo", "reports_demo_data"]


@pytest.fixture
def dashboard_demo(reports_demo_data, db):
    """The demo plus the report tests' outputs, allocations and obligations (once per module)."""
    return reports_demo_data


def query(start=START, end=END, **extra) -> dict:
    return {"start": start.isoformat(), "end": end.isoformat(), **extra}


TODAY = dt.date.today()
