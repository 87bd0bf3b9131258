"""send_donor_summaries end to end on a real Celery worker (memory:// here, Redis in CI) and real SMTP."""

import pytest
from django.core.management import call_command

from delivery.models import Delivery
from reports.models import ReportRun
from tests.delivery.conftest import donor_with_gift

pytestmark = pytest.mark.django_db(transaction=True)

ARGS = ["send_donor_summaries", "--from", "2025-01-01", "--to", "2025-12-31", "--timeout", "90"]


def test_the_command_generates_on_the_worker_and_delivers_once_even_when_rerun(celery_worker, smtp, capsys):
    donors = [donor_with_gift(reporting=2, silent=1) for _ in range(2)]
    call_command(*ARGS)
    out = capsys.readouterr().out
    assert "2 donor summaries requested" in out
    assert "reports: 0 queued, 0 running, 2 done, 0 failed | deliveries: 0 pending, 0 sending, 4 sent, 0 failed" in out
    expected = sorted(c.email for d in donors for c in d.contacts.filter(receives_reports=True))
    assert sorted(m["to"][0] for m in smtp.messages) == expected
    assert ReportRun.objects.filter(status="done").count() == 2

    call_command(*ARGS)
    assert len(smtp.messages) == 4
    assert ReportRun.objects.count() == 2 and Delivery.objects.filter(status="sent").count() == 4
