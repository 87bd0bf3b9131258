"""A run left running by a worker that died: failed by beat, made again by the next mailing or by an admin action."""

import datetime as dt

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from delivery.models import Delivery
from delivery.services import summaries_request
from reports.models import ReportRun
from reports.tasks import STUCK_AFTER, report_runs_fail_stuck
from tests.delivery.conftest import END, START, donor_with_gift
from tests.factories import role_user

pytestmark = pytest.mark.django_db


def crashed_mid_generation() -> ReportRun:
    """A mailing whose worker was killed while generating: the run running, its delivery pending."""
    donor_with_gift(reporting=1, silent=0)
    [run_id] = summaries_request(start=START, end=END)  # on-commit callbacks not run: the task never ran
    ReportRun.objects.filter(pk=run_id).update(
        status=ReportRun.Status.RUNNING, started_at=timezone.now() - STUCK_AFTER - dt.timedelta(minutes=1)
    )
    return ReportRun.objects.get(pk=run_id)


def test_the_limit_is_the_generation_tasks_hard_time_limit():
    from delivery.tasks import summary_prepare
    from reports.tasks import report_run_generate

    assert dt.timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT) == STUCK_AFTER
    assert report_run_generate.time_limit == summary_prepare.time_limit == STUCK_AFTER.total_seconds()
    entry = settings.CELERY_BEAT_SCHEDULE["report-runs-fail-stuck"]
    assert entry["task"] == "reports.tasks.report_runs_fail_stuck" == report_runs_fail_stuck.name


def test_the_beat_task_fails_runs_running_past_the_limit_and_leaves_fresh_ones():
    stuck = crashed_mid_generation()
    fresh = ReportRun.objects.create(
        kind="portfolio", period_start=START, period_end=END, status=ReportRun.Status.RUNNING,
        started_at=timezone.now() - STUCK_AFTER + dt.timedelta(minutes=1),
    )  # fmt: skip
    assert report_runs_fail_stuck.delay().get() == 1
    stuck.refresh_from_db()
    fresh.refresh_from_db()
    assert stuck.status == ReportRun.Status.FAILED and stuck.finished_at
    assert stuck.error.startswith(f"No worker finished this run within {STUCK_AFTER}")
    assert fresh.status == ReportRun.Status.RUNNING
    assert report_runs_fail_stuck.delay().get() == 0


def test_the_next_mailing_makes_a_stuck_run_again_and_the_delivery_goes_out(
    smtp, eager_celery, django_capture_on_commit_callbacks
):
    run = crashed_mid_generation()  # and the beat task has not run yet
    with django_capture_on_commit_callbacks(execute=True):
        assert summaries_request(start=START, end=END) == [run.pk]
    run.refresh_from_db()
    assert run.status == ReportRun.Status.DONE, run.error
    assert Delivery.objects.get().status == Delivery.Status.SENT
    assert len(smtp.messages) == 1


def test_make_again_in_the_admin_remakes_failed_and_stuck_runs_and_sends_them(
    client, smtp, eager_celery, django_capture_on_commit_callbacks
):
    run = crashed_mid_generation()
    done = ReportRun.objects.create(kind="portfolio", period_start=START, period_end=END)
    from reports.services import report_run_generate

    finished = report_run_generate(run_id=done.pk).finished_at
    client.force_login(role_user("Finance"))
    changelist = reverse("admin:reports_reportrun_changelist")
    page = client.get(changelist).content.decode()
    assert "Stuck: running since" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(changelist, {"action": "make_again", "_selected_action": [run.pk, done.pk]})
    assert response.status_code == 302
    run.refresh_from_db()
    assert run.status == ReportRun.Status.DONE, run.error
    assert Delivery.objects.get().status == Delivery.Status.SENT and len(smtp.messages) == 1
    assert ReportRun.objects.get(pk=done.pk).finished_at == finished  # a done run is never made again


def test_make_again_needs_the_generate_permission(client, smtp, eager_celery, django_capture_on_commit_callbacks):
    run = crashed_mid_generation()
    viewer = role_user("Programme")
    viewer.user_permissions.add(Permission.objects.get(codename="view_reportrun"))  # may look, not generate
    client.force_login(viewer)
    changelist = reverse("admin:reports_reportrun_changelist")
    assert "make_again" not in client.get(changelist).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(changelist, {"action": "make_again", "_selected_action": [run.pk]})
    run.refresh_from_db()
    assert run.status == ReportRun.Status.RUNNING and smtp.messages == []
    client.force_login(role_user("Auditor", "auditor"))
    with django_capture_on_commit_callbacks(execute=True):
        client.post(changelist, {"action": "make_again", "_selected_action": [run.pk]})
    assert ReportRun.objects.get(pk=run.pk).status == ReportRun.Status.RUNNING


def test_the_reports_page_shows_stuck_and_failed_runs(client):
    run = crashed_mid_generation()
    ReportRun.objects.create(kind="portfolio", period_start=START, period_end=END, status="failed", error="Boom")
    client.force_login(role_user("Finance"))
    page = client.get(reverse("reports:run_list")).content.decode()
    assert f"Stuck: running since {timezone.localtime(run.started_at):%-d %b %Y %H:%M}" in page
    assert "Failed: Boom" in page
    assert 'http-equiv="refresh"' not in page  # nothing is working: a stuck run is not waited for
