"""The audit pack: asked for from the agreement's page by the roles that export, made in the
background, a ZIP whose CSVs hold every row behind budget against actual and add up to its totals,
and whose README lists each file's SHA-256."""

import csv
import datetime as dt
import hashlib
import io
import zipfile
from decimal import Decimal

import pytest
from django.conf import settings
from django.contrib.admin.models import CHANGE, LogEntry
from django.urls import reverse

from spending import services
from spending.audit_pack import audit_pack_make
from spending.models import Agreement, AuditPack
from spending.selectors import budget_vs_actual
from spending.services import NewCharge
from tests.factories import RateFactory, role_user
from tests.spending.helpers import agreement_with_budget, line

from .test_budget_vs_actual import receive, spend

START, END = dt.date(2025, 1, 1), dt.date(2025, 12, 31)


@pytest.fixture
def agreement(db, finance_user):
    """A USD agreement with a 10% indirect rate: money received in USD, spend in USD, GBP and EUR, one
    expense reversed, one after the period, and another agreement's expense that must stay out."""
    RateFactory(currency="USD", date=dt.date(2024, 12, 1), rate=Decimal("0.79"))
    RateFactory(currency="EUR", date=dt.date(2024, 12, 1), rate=Decimal("0.86"))
    us = agreement_with_budget(funder_ref="US/2025-7", currency="USD", indirect_rate=Decimal("10"))
    other = agreement_with_budget(funder_ref="OTHER")
    receive(finance_user, us, "5000.00", ref="R1")
    receive(finance_user, us, "1000.00", currency="GBP", ref="R2", on=dt.date(2025, 2, 1))
    spend(finance_user, "E-USD", "900.00", [NewCharge(line(us, "A1"), amount=Decimal("900.00"))], currency="USD")
    split = [
        NewCharge(line(us, "A2"), amount=Decimal("222.22")),
        NewCharge(line(other, "A2"), amount=Decimal("111.11")),
    ]
    spend(finance_user, "E-GBP", "333.33", split, currency="GBP")
    wrong = spend(finance_user, "E-EUR", "100.00", [NewCharge(line(us, "A2"), amount=Decimal("100.00"))],
                  currency="EUR", on=dt.date(2025, 4, 1))  # fmt: skip
    services.expense_reverse(
        expense=wrong, by=finance_user, reason="Charged to the wrong funder", on=dt.date(2025, 5, 2)
    )
    spend(finance_user, "E-LATE", "50.00", [NewCharge(line(us, "A1"), amount=Decimal("50.00"))], currency="USD",
          on=dt.date(2026, 1, 5))  # fmt: skip
    LogEntry.objects.log_actions(
        user_id=finance_user.pk, queryset=Agreement.objects.filter(pk=us.pk), action_flag=CHANGE,
        change_message="Changed variance threshold.",
    )  # fmt: skip
    return us


def ask(client, user, agreement, captured, **period):
    client.force_login(user)
    data = {"start": START.isoformat(), "end": END.isoformat()} | period
    with captured(execute=True):
        response = client.post(reverse("spending:audit_pack_new", args=[agreement.pk]), data)
    return response


def unzip(pack: AuditPack) -> dict[str, bytes]:
    with pack.file.open("rb") as f, zipfile.ZipFile(io.BytesIO(f.read())) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def rows(files, name) -> list[dict]:
    return list(csv.DictReader(io.StringIO(files[name].decode())))


def test_the_auditor_asks_and_downloads_a_pack_whose_totals_are_budget_vs_actuals(
    client, agreement, django_capture_on_commit_callbacks
):
    auditor = role_user("Auditor", username="auditor")
    response = ask(client, auditor, agreement, django_capture_on_commit_callbacks)
    assert response.status_code == 302
    pack = AuditPack.objects.get()
    assert (pack.status, pack.requested_by, pack.period_end) == (AuditPack.Status.DONE, auditor, END)
    assert not pack.file.name.startswith(str(settings.BASE_DIR / "static"))

    download = client.get(reverse("spending:audit_pack_download", args=[pack.pk]))
    assert download.status_code == 200
    data = b"".join(download.streaming_content)
    assert hashlib.sha256(data).hexdigest() == pack.sha256
    assert download["Content-Disposition"].startswith(
        'attachment; filename="audit-pack-US-2025-7-20250101-20251231.zip'
    )

    files = unzip(pack)
    assert sorted(files) == [
        "README.txt", "budget_versions.csv", "budget_vs_actual.csv", "charges.csv", "donations.csv",
        "expenses.csv", "fx_workings.csv", "history.csv",
    ]  # fmt: skip
    figures = budget_vs_actual(agreement, start=START, end=END)

    # Every charge behind the totals, and nothing else: the late expense and the other agreement's charge stay out.
    charges = rows(files, "charges.csv")
    assert sorted(c["expense"] for c in charges) == ["E-EUR", "E-EUR-REV", "E-GBP", "E-USD"]
    assert [e["reference"] for e in rows(files, "expenses.csv")] == ["E-GBP", "E-USD", "E-EUR", "E-EUR-REV"]
    reversal = next(e for e in rows(files, "expenses.csv") if e["reference"] == "E-EUR-REV")
    assert (reversal["reversal_of"], reversal["amount"], reversal["reversal_reason"]) == (
        "E-EUR", "-100.00", "Charged to the wrong funder",
    )  # fmt: skip

    # The FX workings convert each line's spend as budget_vs_actual does: their results add up to its direct spend.
    fx = rows(files, "fx_workings.csv")
    average = next(r for r in fx if r["step"] == "average rate")
    assert Decimal(average["rate"]) == figures.average_rate
    to_date = sum(Decimal(r["result"]) for r in fx if r["step"] == "line spend" and ", to_date" in r["what"])
    period = sum(Decimal(r["result"]) for r in fx if r["step"] == "line spend" and ", period" in r["what"])
    assert (to_date, period) == (figures.direct_to_date, figures.direct_period)
    postings = {r["what"]: r for r in fx if r["step"] == "posting"}
    assert postings["expense E-GBP"]["rate"] == "1.00000000" and postings["expense E-GBP"]["result"] == "333.33"
    assert {"donation R1", "donation R2", "expense E-USD", "expense E-EUR-REV"} <= postings.keys()

    # The charges' base amounts add up to the postings' parts, and the budget's lines are those approved.
    assert sum(Decimal(c["base_amount"]) for c in charges) == sum(
        (c.base_amount for c in agreement.charges.filter(expense__incurred_on__lte=END)), Decimal(0)
    )
    assert len(rows(files, "budget_versions.csv")) == agreement.budget_versions.get().lines.count()
    assert {r["code"]: Decimal(r["actual_to_date"]) for r in rows(files, "budget_vs_actual.csv")} == {
        line.code: line.actual_to_date for line in figures.lines
    }
    received = [Decimal(d["pledge_amount"]) for d in rows(files, "donations.csv")]
    assert sum(received) == figures.received_to_date

    history = rows(files, "history.csv")
    assert any(h["source"] == "admin log" and h["detail"] == "Changed variance threshold." for h in history)
    assert any(h["source"] == "reversal" and h["detail"] == "Charged to the wrong funder" for h in history)
    assert any(h["source"] == "saved version" and h["record"] == "expense" for h in history)

    readme = files["README.txt"].decode()
    assert f"Spent to date: {figures.spent_to_date} USD" in readme
    assert f"Indirect costs in the period: {figures.indirect_period} USD" in readme
    assert f"Balance held (received less spent to date): {figures.balance} USD" in readme
    for name, content in files.items():
        if name != "README.txt":
            assert f"{hashlib.sha256(content).hexdigest()}  {name}" in readme


def test_making_a_pack_twice_leaves_it_as_it_was(client, agreement, django_capture_on_commit_callbacks):
    ask(client, role_user("Leadership", username="lead"), agreement, django_capture_on_commit_callbacks)
    pack = AuditPack.objects.get()
    again = audit_pack_make(pack_id=pack.pk)
    assert (again.sha256, again.file.name) == (pack.sha256, pack.file.name)


def test_a_pack_that_fails_says_why_and_a_retry_makes_it(
    client, agreement, django_capture_on_commit_callbacks, monkeypatch
):
    def broken(*args, **kwargs):
        raise OSError("The private storage is full")

    monkeypatch.setattr("spending.audit_pack.audit_pack_files", broken)
    auditor = role_user("Auditor", username="auditor")
    assert ask(client, auditor, agreement, django_capture_on_commit_callbacks).status_code == 302
    pack = AuditPack.objects.get()
    assert (pack.status, pack.error) == (AuditPack.Status.FAILED, "OSError: The private storage is full")
    assert pack.finished_at is not None and not pack.file and not pack.sha256
    page = client.get(reverse("admin:spending_agreement_change", args=[agreement.pk])).content.decode()
    assert "<strong>Failed: OSError: The private storage is full</strong>" in page
    assert "Download the ZIP" not in page
    assert client.get(reverse("spending:audit_pack_download", args=[pack.pk])).status_code == 404

    monkeypatch.undo()
    again = audit_pack_make(pack_id=pack.pk)
    assert (again.status, again.error) == (AuditPack.Status.DONE, "")
    download = client.get(reverse("spending:audit_pack_download", args=[pack.pk]))
    assert hashlib.sha256(b"".join(download.streaming_content)).hexdigest() == again.sha256
    assert "README.txt" in unzip(again)


def test_a_pack_being_made_is_left_to_its_worker(agreement, finance_user):
    pack = AuditPack.objects.create(
        agreement=agreement, period_start=START, period_end=END, requested_by=finance_user,
        status=AuditPack.Status.RUNNING,
    )  # fmt: skip
    assert audit_pack_make(pack_id=pack.pk).status == AuditPack.Status.RUNNING
    pack.refresh_from_db()
    assert (pack.status, pack.file.name) == (AuditPack.Status.RUNNING, "")


def test_a_period_that_ends_before_it_starts_is_refused_and_nothing_is_made(
    client, agreement, django_capture_on_commit_callbacks
):
    response = ask(client, role_user("Finance", username="fin"), agreement, django_capture_on_commit_callbacks,
                   end="2024-12-31")  # fmt: skip
    assert response.status_code == 400
    assert "The period ends before it starts." in response.content.decode()
    assert not AuditPack.objects.exists()


@pytest.mark.parametrize(("role", "allowed"), [("Finance", True), ("Leadership", True), ("Auditor", True),
                                               ("Programme", False)])  # fmt: skip
def test_access_per_role(client, agreement, django_capture_on_commit_callbacks, role, allowed):
    made = ask(client, role_user("Auditor", username="maker"), agreement, django_capture_on_commit_callbacks)
    assert made.status_code == 302
    pack = AuditPack.objects.get()
    client.force_login(role_user(role, username=f"{role}-user"))
    new = client.get(reverse("spending:audit_pack_new", args=[agreement.pk]))
    download = client.get(reverse("spending:audit_pack_download", args=[pack.pk]))
    page = client.get(reverse("admin:spending_agreement_change", args=[agreement.pk])).content.decode()
    assert (new.status_code, download.status_code) == ((200, 200) if allowed else (403, 403))
    assert ("Download the ZIP" in page) is allowed
    if not allowed:
        assert "Finance, Leadership and Auditor roles" in new.content.decode()


def test_a_pack_whose_worker_died_is_failed_by_the_sweep_and_can_be_made_again(agreement, finance_user):
    from django.utils import timezone

    from spending.tasks import STUCK_AFTER, audit_packs_fail_stuck

    def running(started_ago):
        return AuditPack.objects.create(
            agreement=agreement, period_start=START, period_end=END, requested_by=finance_user,
            status=AuditPack.Status.RUNNING, started_at=timezone.now() - started_ago,
        )  # fmt: skip

    dead, alive = running(STUCK_AFTER + dt.timedelta(minutes=1)), running(dt.timedelta(minutes=1))
    assert audit_packs_fail_stuck() == 1
    dead.refresh_from_db()
    alive.refresh_from_db()
    assert (dead.status, alive.status) == (AuditPack.Status.FAILED, AuditPack.Status.RUNNING)
    assert dead.error == "No worker finished this pack within 0:06:00 (it stopped or was killed). Ask for it again."
    made = audit_pack_make(pack_id=dead.pk)
    assert (made.status, made.error) == (AuditPack.Status.DONE, "")
    assert made.started_at is not None and hashlib.sha256(made.file.read()).hexdigest() == made.sha256


def test_beat_sweeps_stuck_packs_every_quarter_hour(settings):
    from spending.tasks import audit_packs_fail_stuck

    entry = settings.CELERY_BEAT_SCHEDULE["audit-packs-fail-stuck"]
    assert entry["task"] == "spending.tasks.audit_packs_fail_stuck" == audit_packs_fail_stuck.name
    assert entry["schedule"].minute == {0, 15, 30, 45}
