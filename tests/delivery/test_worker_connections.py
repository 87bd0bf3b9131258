"""A worker keeps its database connection between tasks (DB_CONN_MAX_AGE), as a web process does,
and drops it after a task that did not succeed or when the server has closed it (PostgreSQL)."""

import time

import pytest
from django.db import connection, transaction

from backoffice.celery import app as celery_app
from tests.delivery.conftest import wait_for

pytestmark = [pytest.mark.django_db(transaction=True)]

seen_backends: list[int] = []  # the backend each probe ran on, in order (the test worker is a thread of this process)


@celery_app.task(name="tests.delivery.backend_probe")
def backend_probe(fail: bool = False) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        seen_backends.append(cursor.fetchone()[0])
    if fail:
        raise RuntimeError("the probe fails on purpose")


@celery_app.task(bind=True, name="tests.delivery.backend_probe_retried", max_retries=1)
def backend_probe_retried(self) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        seen_backends.append(cursor.fetchone()[0])
    if not self.request.retries:
        raise self.retry(countdown=0)


def probe(fail: bool = False) -> int:
    count = len(seen_backends)
    backend_probe.delay(fail)
    wait_for(lambda: len(seen_backends) > count, timeout=30, what="the probe task")
    return seen_backends[-1]


@pytest.fixture(autouse=True)
def _backends_cleared():
    seen_backends.clear()


def test_successive_tasks_use_the_same_connection(celery_worker):
    first = probe()
    assert [probe() for _ in range(3)] == [first] * 3


def test_a_failed_task_closes_its_connection(celery_worker):
    first = probe()
    assert probe(fail=True) == first
    after_failure = probe()
    assert after_failure != first
    assert probe() == after_failure


def test_a_connection_the_server_closed_is_replaced_before_the_next_task(celery_worker):
    first = probe()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [first])
        assert cursor.fetchone() == (True,)
    wait_for(lambda: not _backend_alive(first), timeout=10, what="the backend to exit")
    second = probe()  # the health check finds the connection gone, and the task runs on a new one
    assert second != first
    assert probe() == second


def test_a_task_that_is_retried_closes_its_connection(celery_worker):
    backend_probe_retried.delay()
    wait_for(lambda: len(seen_backends) == 2, timeout=30, what="the task and its retry")
    first, retried = seen_backends
    assert retried != first


def test_a_connection_past_its_age_is_closed_before_the_next_task(celery_worker):
    saved = connection.settings_dict["CONN_MAX_AGE"]
    connection.settings_dict["CONN_MAX_AGE"] = 2  # read by the worker thread's connection when it opens
    try:
        first = probe()
        assert probe() == first  # within its age
        time.sleep(2.5)  # the worker idles past it
        assert probe() != first
    finally:
        connection.settings_dict["CONN_MAX_AGE"] = saved


def test_a_worker_with_max_age_zero_connects_for_every_task(celery_worker):
    # Every thread's connection reads this dict (the worker thread's too) when it connects.
    saved = connection.settings_dict["CONN_MAX_AGE"]
    connection.settings_dict["CONN_MAX_AGE"] = 0
    try:
        backends = [probe() for _ in range(3)]
    finally:
        connection.settings_dict["CONN_MAX_AGE"] = saved
    assert len(set(backends)) == 3


def test_an_eager_task_leaves_the_callers_transaction_and_connection_alone(eager_celery):
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (mine,) = cursor.fetchone()
    with transaction.atomic():
        backend_probe.delay()
        assert connection.in_atomic_block
        assert seen_backends == [mine]
    backend_probe.delay()
    assert seen_backends == [mine, mine]


def _backend_alive(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone()[0] == 1
