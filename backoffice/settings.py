"""Fundtrace settings, driven by the environment (12-factor, django-environ).

Defaults give a working back office on an embedded SQLite file with Celery tasks run in
process and email printed to the console. Production sets DATABASE_URL, CELERY_BROKER_URL,
EMAIL_URL, SECRET_KEY and ALLOWED_HOSTS.
"""

from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set the SECRET_KEY environment variable (or DEBUG=1 for local development)."
        )
    SECRET_KEY = "insecure-development-key-only-used-with-DEBUG"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "simple_history",
    "axes",
    "import_export",
    "backoffice",
    "donors",
    "grants",
    "reports",
    "transfers",
    "delivery",
    "dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "backoffice.middleware.RefuseNulMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # AxesMiddleware must be last: it turns a lockout into a response.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "backoffice.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "backoffice.wsgi.application"

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = True
# Workers and web processes keep their database connection between tasks and requests (checked
# before reuse), rather than connecting for each one: a new PostgreSQL connection costs a few
# milliseconds.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=300)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
FORMAT_MODULE_PATH = ["backoffice.formats"]
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")

# Reports and imports live outside any public media root; they are served only by views
# that check permissions or signed links.
PRIVATE_STORAGE_ROOT = env.path("PRIVATE_STORAGE_ROOT", default=BASE_DIR / "var" / "private")
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(PRIVATE_STORAGE_ROOT), "base_url": None},
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Imports (docs/imports.md). Admin uploads larger than IMPORT_BACKGROUND_BYTES are checked
# and imported on a Celery worker, with a progress page, instead of in the request.
IMPORT_MAX_BYTES = env.int("IMPORT_MAX_BYTES", default=256 * 1024 * 1024)
IMPORT_BACKGROUND_BYTES = env.int("IMPORT_BACKGROUND_BYTES", default=2 * 1024 * 1024)

# Money.
BASE_CURRENCY = env.str("BASE_CURRENCY", default="GBP").upper()

# Sessions end after an idle timeout: every request renews the cookie.
SESSION_COOKIE_AGE = env.int("SESSION_IDLE_SECONDS", default=30 * 60)
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

# History pages show past versions; reverting from them is off (backoffice.admin_tools.HistoryAdmin).
SIMPLE_HISTORY_REVERT_DISABLED = True

# Login lockout (django-axes).
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=1.0)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True

# Email.
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=20)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Fundtrace <reports@fundtrace.invalid>")

# Celery: with no broker configured, tasks run in process.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or None
CELERY_TASK_ALWAYS_EAGER = CELERY_BROKER_URL is None
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="") or None
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fixup closes the database connections around every task unless this is set;
# it then recycles them once every this many tasks, and backoffice.celery keeps them in between
# as DB_CONN_MAX_AGE says (closing them after any task that did not succeed).
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=300)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=360)
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE = {
    # Monday morning; a restarted beat may fire again, the task sends once per ISO week.
    "finance-weekly-reminder": {
        "task": "delivery.tasks.finance_reminder_send",
        "schedule": crontab(minute=0, hour=7, day_of_week="mon"),
    },
    # Import jobs whose worker died or whose task was lost: failed, so the page stops waiting.
    "import-jobs-fail-stuck": {
        "task": "transfers.tasks.import_jobs_fail_stuck",
        "schedule": crontab(minute="*/15"),
    },
    # Report runs whose worker died while generating them: failed, so they are made again.
    "report-runs-fail-stuck": {
        "task": "reports.tasks.report_runs_fail_stuck",
        "schedule": crontab(minute="*/15"),
    },
}

# Delivery of donor summaries (delivery/).
DELIVERY_BASE_URL = env.str("DELIVERY_BASE_URL", default="http://127.0.0.1:8000")
DELIVERY_LINK_MAX_AGE_DAYS = env.int("DELIVERY_LINK_MAX_AGE_DAYS", default=30)
DELIVERY_MAX_ATTEMPTS = env.int("DELIVERY_MAX_ATTEMPTS", default=5)
DELIVERY_RETRY_BASE_SECONDS = env.float("DELIVERY_RETRY_BASE_SECONDS", default=60.0)
DELIVERY_RETRY_MAX_SECONDS = env.float("DELIVERY_RETRY_MAX_SECONDS", default=3600.0)
DELIVERY_STUCK_MINUTES = env.int("DELIVERY_STUCK_MINUTES", default=15)
DELIVERY_SEND_SOFT_TIME_LIMIT = env.int("DELIVERY_SEND_SOFT_TIME_LIMIT", default=120)
DELIVERY_GENERATION_POLL_SECONDS = env.int("DELIVERY_GENERATION_POLL_SECONDS", default=10)
# summary_prepare sends a run's emails itself for this long, then leaves the rest to delivery_send
# tasks: well inside its time limit (CELERY_TASK_SOFT_TIME_LIMIT) even if the last send hits EMAIL_TIMEOUT.
DELIVERY_INLINE_SEND_SECONDS = env.int("DELIVERY_INLINE_SEND_SECONDS", default=60)
DELIVERY_MESSAGE_ID_DOMAIN = env.str("DELIVERY_MESSAGE_ID_DOMAIN", default="fundtrace.invalid")

# Production hardening: `manage.py check --deploy` passes when DEBUG is off.
if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    SECURE_CONTENT_TYPE_NOSNIFF = True
    X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="WARNING")},
}
