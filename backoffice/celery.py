import os

from celery import Celery, states
from celery.signals import task_postrun, task_prerun, worker_process_shutdown, worker_shutdown

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backoffice.settings")

app = Celery("backoffice")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


# Database connections on a worker live as they do in a web process: kept between tasks for
# DB_CONN_MAX_AGE seconds and checked before reuse (CONN_HEALTH_CHECKS), rather than opened for
# every task as Celery's Django fixup does unless CELERY_DB_REUSE_MAX is set (settings.py sets it,
# so that the fixup only recycles them now and then). A new PostgreSQL connection per donor
# summary cost a backend start and the re-preparing of the summary's statements.
#
# After a task that did not succeed, the connections are closed whatever their age: a task
# stopped by its soft time limit may have been interrupted inside a query, leaving a connection
# that Django cannot tell is unusable (the reason Celery closes them by default).


@task_prerun.connect
def database_connections_before_task(sender=None, **kwargs):
    if not _eager(sender):
        _close_old_connections()


@task_postrun.connect
def database_connections_after_task(sender=None, state=None, **kwargs):
    if _eager(sender):
        return  # in process, inside the caller's request or transaction: not ours to close
    if state == states.SUCCESS:
        _close_old_connections()
    else:
        _close_all_connections()


@worker_shutdown.connect
@worker_process_shutdown.connect
def database_connections_at_shutdown(**kwargs):
    _close_all_connections()


def _eager(task) -> bool:
    return bool(getattr(getattr(task, "request", None), "is_eager", False))


def _close_old_connections():
    from django.db import close_old_connections

    close_old_connections()


def _close_all_connections():
    from django.db import connections

    connections.close_all()
