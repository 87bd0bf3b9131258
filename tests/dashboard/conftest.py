import datetime as dt

import pytest
from django.core.management import call_command

from tests.reports.conftest import END, START, funding_add

__all__ = ["END", "START", "dashboard_demo"]


@pytest.fixture
def dashboard_demo(db):
    """seed_demo plus the report tests' outputs, allocations and obligations."""
    call_command("seed_demo", "--demo-users", verbosity=0)
    return funding_add()


def query(start=START, end=END, **extra) -> dict:
    return {"start": start.isoformat(), "end": end.isoformat(), **extra}


TODAY = dt.date.today()
