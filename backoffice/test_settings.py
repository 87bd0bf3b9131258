"""Settings for the test suite: the real settings, with a test key and fast hashing."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-use-0123456789")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")

from .settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
PRIVATE_STORAGE_ROOT = BASE_DIR / "var" / "test-private"  # noqa: F405
STORAGES["default"]["OPTIONS"]["location"] = str(PRIVATE_STORAGE_ROOT)  # noqa: F405

# Celery test workers run in another thread: on SQLite the test database must be a file that
# thread can open, not a private :memory: database.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    (BASE_DIR / "var").mkdir(exist_ok=True)  # noqa: F405
    DATABASES["default"].setdefault("TEST", {})["NAME"] = str(BASE_DIR / "var" / "test-db.sqlite3")  # noqa: F405
