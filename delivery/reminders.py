"""The weekly Finance reminder: overdue instalments and reporting obligations due in the next 30 days.

One email per ISO week however often beat fires (a restarted beat fires again): the week's
ReminderSent row is claimed with a conditional UPDATE before anything is sent.
"""

import datetime as dt
import logging

from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import timezone

from backoffice.roles import FINANCE
from donors.selectors import overdue_instalments
from grants.selectors import obligations_due

from .models import ReminderSent
from .smtp_errors import is_retryable

logger = logging.getLogger(__name__)


def iso_week(day: dt.date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def overdue_rows(*, today: dt.date) -> list[dict]:
    """The reminder's rows: each overdue instalment with what is owed on it, by pledge then due date."""
    instalments = overdue_instalments(today=today).order_by("pledge__ref", "due_date", "id")
    return [{"pledge": i.pledge, "instalment": i, "owed": i.owed} for i in instalments]


def finance_reminder_send(*, today: dt.date | None = None) -> str:
    """Send this week's reminder unless it was already sent (or is being sent). Returns sent/already/retry/empty."""
    today = today or timezone.localdate()
    week = iso_week(today)
    ReminderSent.objects.get_or_create(week=week)
    if not ReminderSent.objects.filter(week=week, status=ReminderSent.Status.PENDING).update(
        status=ReminderSent.Status.SENDING
    ):
        return "already"
    recipients = list(
        get_user_model()
        .objects.filter(groups__name=FINANCE, is_active=True)
        .exclude(email="")
        .order_by("email")
        .values_list("email", flat=True)
        .distinct()
    )
    instalments = overdue_rows(today=today)
    obligations = list(obligations_due(within_days=30, today=today))
    context = {"week": week, "today": today, "instalments": instalments, "obligations": obligations}
    claimed = ReminderSent.objects.filter(week=week, status=ReminderSent.Status.SENDING)
    if not recipients:
        claimed.update(
            status=ReminderSent.Status.SENT, sent_at=timezone.now(), last_error="No Finance user has an email."
        )
        return "empty"
    message = EmailMultiAlternatives(
        subject=f"Fundtrace reminder {week}: {len(instalments)} overdue instalments, {len(obligations)} reports due",
        body=render_to_string("delivery/email/reminder.txt", context),
        to=recipients,
    )
    message.attach_alternative(render_to_string("delivery/email/reminder.html", context), "text/html")
    try:
        message.send()
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"[:2000]
        if is_retryable(exc):
            claimed.update(status=ReminderSent.Status.PENDING, last_error=error)
            return "retry"
        # Left in sending with the error: visible in the admin, not repeated every beat tick.
        claimed.update(last_error=error)
        logger.error("Finance reminder %s failed: %s", week, error)
        return "failed"
    claimed.update(
        status=ReminderSent.Status.SENT,
        sent_at=timezone.now(),
        recipients=len(recipients),
        overdue_instalments=len(instalments),
        obligations_due=len(obligations),
        last_error="",
    )
    return "sent"
