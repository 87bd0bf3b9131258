import pytest

from tests.delivery.conftest import eager_celery  # noqa: F401 (tasks run in process)


@pytest.fixture
def celery_worker_if_brokered(transactional_db):
    """With a real broker (CI), a worker thread makes the export; without one, tasks run in process."""
    from django.conf import settings

    if not settings.CELERY_BROKER_URL:
        yield
        return
    from backoffice.celery import app
    from tests.worker_thread import worker_thread

    with worker_thread(app):
        yield
