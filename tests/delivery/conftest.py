"""A real SMTP server (aiosmtpd on 127.0.0.1) and a real Celery worker for the delivery tests."""

import datetime as dt
import email
import os
import socket
import time
import uuid
from contextlib import contextmanager
from email import policy

import pytest
from aiosmtpd.controller import Controller

from backoffice.celery import app as celery_app
from donors.services import donation_post
from tests.conftest import REQUIRE_SERVICES
from tests.factories import ContactFactory, DonationFactory, DonorFactory
from tests.worker_thread import worker_thread

START, END = dt.date(2025, 1, 1), dt.date(2025, 12, 31)


class Sink:
    """Accepts every message (or answers `replies`, then `reply`, to DATA) and keeps what it received."""

    def __init__(self):
        self.messages = []
        self.data_attempts = 0
        self.reply = None
        self.replies = []  # answers for the next messages, one each, before `reply`
        self.hang_ups = []  # "RCPT" or "DATA": close the connection there, unanswered, for the next messages

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.hang_ups and self.hang_ups[0] == "RCPT":
            self.hang_ups.pop(0)
            server.transport.close()
            return "250 never seen"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.data_attempts += 1
        if self.hang_ups and self.hang_ups[0] == "DATA":  # stored, then gone before the answer
            self.hang_ups.pop(0)
            self._store(envelope)
            server.transport.close()
            return "250 never seen"
        if self.replies:
            return self.replies.pop(0)
        if self.reply:
            return self.reply
        self._store(envelope)
        return "250 Message accepted for delivery"

    def _store(self, envelope):
        parsed = email.message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        self.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos), "message": parsed})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp(settings):
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    settings.SITE_URL = "http://testserver"
    yield sink
    controller.stop()


@pytest.fixture
def eager_celery():
    """Tasks run in process (what `make test` does by default; CI sets a broker, so force it here)."""
    before = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield celery_app
    celery_app.conf.task_always_eager = before


@pytest.fixture
def celery_worker(transactional_db, monkeypatch):
    """A real worker thread: Redis when CELERY_BROKER_URL is a Redis URL (CI), else the in-memory broker."""
    broker = os.environ.get("CELERY_BROKER_URL", "")
    with _worker(broker if broker.startswith("redis://") else "memory://", monkeypatch):
        yield celery_app


@pytest.fixture
def rabbitmq_worker(transactional_db, monkeypatch):
    """A real worker thread on RabbitMQ (RABBITMQ_URL), on a queue of this test run's own.

    Skipped without RABBITMQ_URL, unless REQUIRE_SERVICES=1: there a missing or unreachable
    RabbitMQ is a failure.
    """
    import kombu

    url = os.environ.get("RABBITMQ_URL", "")
    if not url:
        if REQUIRE_SERVICES:
            pytest.fail("REQUIRE_SERVICES=1 but RABBITMQ_URL is not set (e.g. amqp://guest:guest@127.0.0.1:5672//)")
        pytest.skip("needs RabbitMQ: set RABBITMQ_URL=amqp://guest:guest@127.0.0.1:5672//")
    if not url.startswith(("amqp://", "amqps://", "pyamqp://")):
        pytest.fail(f"RABBITMQ_URL must be an amqp:// URL, not {url!r}")
    queue = f"fundtrace-test-delivery-{uuid.uuid4().hex[:12]}"
    with kombu.Connection(url, connect_timeout=3) as connection:
        try:
            connection.ensure_connection(max_retries=1)
        except Exception as exc:  # noqa: BLE001 (any way of being unreachable is reported the same)
            pytest.fail(f"RabbitMQ at RABBITMQ_URL ({url}) is unreachable: {exc}")
        try:
            with _worker(url, monkeypatch, queue=queue):
                yield celery_app
        finally:
            connection.default_channel.queue_delete(queue)


@contextmanager
def _worker(broker: str, monkeypatch, *, queue: str | None = None):
    keys = ("broker_url", "task_always_eager", "task_default_queue", "worker_enable_remote_control")
    saved = {k: celery_app.conf[k] for k in keys}
    monkeypatch.setenv("CELERY_BROKER_URL", broker)  # Celery reads it before its configuration's broker_url
    celery_app.conf.update(broker_url=broker, task_always_eager=False)
    if queue:  # nothing else on the broker takes these tasks, and no broadcast reaches this worker
        celery_app.conf.update(task_default_queue=queue, worker_enable_remote_control=False)
    _connections_reset()
    celery_app.control.purge()  # nothing left over from an earlier run on the same Redis database
    try:
        with worker_thread(celery_app, shutdown_timeout=30):
            yield celery_app
    finally:
        celery_app.conf.update(saved)
        _connections_reset()


@pytest.fixture
def max_attempts(monkeypatch):
    """Set how many attempts a delivery gets (DELIVERY_MAX_ATTEMPTS, read when the task is defined)."""
    from delivery.tasks import delivery_send

    def set_to(attempts: int) -> None:
        monkeypatch.setattr(delivery_send, "max_retries", attempts - 1)

    return set_to


def backoff_ceiling(retry: int) -> float:
    """The longest wait before retry `retry` (1, 2, ...): DELIVERY_RETRY_BASE_SECONDS·2^(retry−1), capped."""
    from django.conf import settings

    return min(settings.DELIVERY_RETRY_MAX_SECONDS, settings.DELIVERY_RETRY_BASE_SECONDS * 2 ** (retry - 1))


def _connections_reset():
    """Drop the app's cached connection and producer pools and its queues, made for whatever broker
    and default queue were configured before.

    Eager calls acquire a producer too: without this, a pool made for the default broker URL
    (amqp://localhost) would carry the test's messages away from the test worker.
    """
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    celery_app.__dict__.pop("amqp", None)  # a cached property: made again from the configuration when next read


def wait_for(condition, timeout=60.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def donor_with_gift(*, reporting=1, silent=1, **donor):
    """A donor with one posted gift in 2025, `reporting` contacts who receive reports and `silent` who do not."""
    donor = DonorFactory(**donor)
    for _ in range(reporting):
        ContactFactory(donor=donor, receives_reports=True)
    for _ in range(silent):
        ContactFactory(donor=donor, receives_reports=False)
    donation_post(donation=DonationFactory(donor=donor, received_on=dt.date(2025, 3, 1)), by=None)
    return donor


def attachment(message) -> bytes:
    part = next(p for p in message.iter_attachments() if p.get_content_type() == "application/pdf")
    return part.get_content()


def body_link(message) -> str:
    import re

    text = message.get_body(preferencelist=("plain",)).get_content()
    return re.search(r"http://testserver(/d/[^/\s]+/)", text).group(1)
