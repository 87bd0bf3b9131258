import contextlib
import os
from unittest import mock

import pgtrigger
import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from django.test import TransactionTestCase, override_settings

from backoffice.db import truncate_guards

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"


def pytest_collection_modifyitems(items):
    """A test that runs a real Celery worker is marked `services`: CI runs these again on Redis."""
    for item in items:
        if {"celery_worker", "celery_worker_if_brokered", "rabbitmq_worker"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.services)


@pytest.fixture(scope="session", autouse=True)
def _services_present():
    """With REQUIRE_SERVICES=1 (CI's second run) a missing Redis broker is a failure, not a skip."""
    if not REQUIRE_SERVICES:
        return
    broker = os.environ.get("CELERY_BROKER_URL", "")
    assert broker.startswith("redis://"), "REQUIRE_SERVICES=1 but CELERY_BROKER_URL is not a Redis URL"
    import redis

    redis.Redis.from_url(broker, socket_connect_timeout=3).ping()


@pytest.fixture(scope="session", autouse=True)
def _celery_queue_of_this_process():
    """The worker threads of each test process take tasks from a queue of that process's own. CI
    runs the worker tests in two processes (`pytest -n 2`) on one Redis database: on one shared
    queue, a task one process sent could run in the other's worker, on the other's test database."""
    from backoffice.celery import app

    keys = ("task_default_queue", "worker_enable_remote_control")
    saved = {key: app.conf[key] for key in keys}
    app.conf.update(task_default_queue=f"fundtrace-test-{os.getpid()}", worker_enable_remote_control=False)
    app.__dict__.pop("amqp", None)  # its queues are made from the configuration when next read
    yield
    app.conf.update(saved)
    app.__dict__.pop("amqp", None)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The test database, with autovacuum off for its tables.

    Shared test data lives in a transaction that is never committed (`_kept_for_module`), and
    transactional tests commit and flush. Autovacuum passing over a table while its rows are
    uncommitted records it as holding none, and the planner then picks plans made for empty
    tables: a selector over seeded data took 40 s a query instead of milliseconds.
    """
    with django_db_blocker.unblock():
        with connection.cursor() as cursor:
            for table in connection.introspection.table_names():
                cursor.execute(f'ALTER TABLE "{table}" SET (autovacuum_enabled = false)')
        # The demo's database starts as a copy of this one, made now: CREATE DATABASE … TEMPLATE
        # needs the template to have no other session, and later a worker or live server may hold one.
        _database_create(_demo_database_name(), template=connection.settings_dict["NAME"])
    yield
    with django_db_blocker.unblock():
        _database_drop(_demo_database_name())


@pytest.fixture(scope="session", autouse=True)
def _private_storage(tmp_path_factory):
    """The files tests store (reports, logos, exports, packs) go to a folder of this run's own,
    which pytest removes with its other old temporary folders. In a folder kept between runs, a
    file an earlier run stored makes the storage choose another name, and a test of the name fails
    the second time `make test` runs."""
    root = tmp_path_factory.mktemp("private")
    default = settings.STORAGES["default"]
    storages = {**settings.STORAGES, "default": {**default, "OPTIONS": {**default["OPTIONS"], "location": str(root)}}}
    with override_settings(PRIVATE_STORAGE_ROOT=root, STORAGES=storages):
        yield


@pytest.fixture(scope="session", autouse=True)
def _flush_past_the_truncate_guards():
    """A transactional test ends with Django's flush: one TRUNCATE of every table, which the ledger
    tables refuse (backoffice.db.ledger_triggers). The flush, and nothing else, skips those guards."""
    flush = TransactionTestCase._fixture_teardown

    def flush_past_guards(self):
        with pgtrigger.ignore(*truncate_guards()):
            flush(self)

    with mock.patch.object(TransactionTestCase, "_fixture_teardown", flush_past_guards):
        yield


@pytest.fixture
def finance_user(db):
    from tests.factories import role_user

    return role_user("Finance")


@pytest.fixture
def superuser(db):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_superuser("root", "root@example.org", "pw")


def _demo_database_name() -> str:
    return f"{connection.settings_dict['NAME']}_demo"


def _database_create(name: str, *, template: str) -> None:
    connection.close()
    with connection._nodb_cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')


def _database_drop(name: str) -> None:
    with connection._nodb_cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def _database(name: str):
    """The default connection works in database `name` for the block, then in its own again."""
    settings_dict = connection.settings_dict
    own = settings_dict["NAME"]
    connection.close()
    settings_dict["NAME"] = name
    try:
        yield
    finally:
        connection.close()
        settings_dict["NAME"] = own


@contextlib.contextmanager
def _kept_for_module(django_db_blocker, database: str | None = None):
    """Data made inside this block is shared by the module's tests, then rolled back.

    The same trick as Django's TestCase.setUpTestData: an outer transaction per module,
    and each test's own transaction nested in it as a savepoint. With `database`, the module's
    tests work in that database instead of the test database. Tests that need
    transactional_db or live_server must not use it.
    """
    with django_db_blocker.unblock(), _database(database) if database else contextlib.nullcontext():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            yield
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


@pytest.fixture(scope="session")
def demo_database(django_db_setup, django_db_blocker) -> str:
    """The name of a database holding `seed_demo`'s data, committed, made once per test process.

    seed_demo takes about 20 seconds. A module that needs the demo works in this database
    (`_kept_for_module`) inside a transaction that is rolled back at its end, so every module
    sees the same fresh demo without seeding it again.
    """
    name = _demo_database_name()
    with django_db_blocker.unblock(), _database(name):
        call_command("seed_demo", "--demo-users", verbosity=0)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # committed rows, autovacuum off: the planner needs the counts
    return name


@contextlib.contextmanager
def demo_database_copy(demo_database: str):
    """The default connection, and a live server's, work in a throwaway copy of the demo's database.

    For tests whose data must be committed for a live server to see: what they write is dropped
    with the copy, with no flush, and the copy takes a second where seeding took twenty."""
    name = f"{demo_database}_copy"
    _database_create(name, template=demo_database)
    try:
        with _database(name):
            yield
    finally:
        _database_drop(name)


@pytest.fixture(scope="module")
def demo_data(demo_database, django_db_blocker):
    """`seed_demo`'s data for the module's tests; each test rolls back its own changes."""
    with _kept_for_module(django_db_blocker, demo_database):
        yield
