"""Settings for the test suite: the real settings, with a test key and fast hashing."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-use-0123456789")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
# The test client's host; DEBUG is off here, so the site URL check wants one.
os.environ.setdefault("SITE_URL", "http://testserver")

from .settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Stored files go to a folder of each test run's own: tests/conftest.py (_private_storage).

# Tasks run in process unless a test starts a real worker (tests/delivery/conftest.py turns
# this off for its worker and points it at CELERY_BROKER_URL: memory:// or Redis in CI).
CELERY_TASK_ALWAYS_EAGER = True

# Delivery retries wait whole seconds (Celery's retry_backoff): the shortest backoff, so tests on a worker stay quick.
DELIVERY_RETRY_BASE_SECONDS = 1
DELIVERY_RETRY_MAX_SECONDS = 2
