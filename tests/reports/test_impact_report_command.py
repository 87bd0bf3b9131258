"""`impact_report` on the demo writes a PDF that `verify_report` accepts."""

from django.contrib.auth.models import Group
from django.core.management import call_command

from donors.models import Donor
from reports.models import ReportRun
from tests.factories import PASSWORD


def test_impact_report_command_writes_pdf(tmp_path, demo_data, db):
    out = tmp_path / "donor.pdf"
    call_command("impact_report", "donor", "DON-0002", "--from", "2025-01-01", "--to", "2025-12-31", "--out", str(out))
    assert out.read_bytes().startswith(b"%PDF")
    run = ReportRun.objects.get()
    assert run.donor == Donor.objects.get(ref="DON-0002")
    call_command("verify_report", str(out))
    assert Group.objects.get(name="Leadership").permissions.filter(codename="download_report").exists()
    assert PASSWORD
