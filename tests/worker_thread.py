"""A real Celery worker in a thread of the test process, for the tests that need one."""

from contextlib import contextmanager

from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.db import connections


@contextmanager
def worker_thread(app, **options):
    """`start_worker` (solo pool), then close the database connections its thread opened.

    Workers keep their connection between tasks (backoffice.celery), and a thread's connection
    is not closed when the thread ends: left open, it would keep the test database from being
    dropped. Each is noted after a task and closed once the worker has stopped.
    """
    opened = set()

    def note_connection(**kwargs):
        opened.add(connections["default"])

    task_postrun.connect(note_connection, weak=False)
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, loglevel="WARNING", **options):
            yield app
    finally:
        task_postrun.disconnect(note_connection)
        for wrapper in opened:
            if wrapper.connection is not None:  # the worker thread has ended: nobody else uses it
                wrapper.connection.close()
