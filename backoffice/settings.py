"""Fundtrace settings, driven by the environment (12-factor, django-environ).

Defaults give a working back office on an embedded PostgreSQL server (backoffice.embedded_db)
with Celery tasks run in process and email printed to the console. Production sets DATABASE_URL, CELERY_BROKER_URL,
EMAIL_URL, SECRET_KEY and ALLOWED_HOSTS.
"""

import base64
import hashlib
import re
from pathlib import Path

import environ
from celery.schedules import crontab
from csp.constants import NONCE, NONE, SELF, UNSAFE_HASHES
from django.core.exceptions import ImproperlyConfigured

from backoffice import embedded_db

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
    "pgtrigger",
    "backoffice",
    "donors",
    "grants",
    "spending",
    "reports",
    "transfers",
    "delivery",
    "privacy",
    "journals",
    "iati",
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
                "dashboard.navigation.nav_links",
            ],
        },
    },
]
# Widgets render through TEMPLATES too, so templates/admin/widgets/ can correct the admin's markup.
FORM_RENDERER = "django.forms.renderers.TemplatesSetting"
INSTALLED_APPS += ["django.forms"]  # the built-in widget templates, for that renderer

WSGI_APPLICATION = "backoffice.wsgi.application"

DATABASES = {"default": env.db("DATABASE_URL") if env.str("DATABASE_URL", default="") else embedded_db.database()}
DATABASES["default"]["ATOMIC_REQUESTS"] = True
# Workers and web processes keep their database connection between tasks and requests (checked
# before reuse), rather than connecting for each one: a new PostgreSQL connection costs a few
# milliseconds.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=300)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# One sign-in page, the admin's: pages behind login_required send visitors there, with where they were
# in `next` (followed only to this site); a sign-in without a usable `next` lands on the admin's home.
LOGIN_URL = "admin:login"
LOGIN_REDIRECT_URL = "admin:index"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
# The languages a donor's summary, its email and its HTML version are written in (Donor.language).
# The back office itself stays in English: no LocaleMiddleware.
LANGUAGES = [("en-gb", "English"), ("fr", "French")]
LOCALE_PATHS = [BASE_DIR / "locale"]
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
# Money out (docs/spending.md): the largest evidence file (receipt, invoice) an expense carries, and how
# budget-vs-actual converts spend in another currency into the agreement's: "average" (the weighted
# average rate of the funder's money received under the agreement) or "spot" (the rate of the day paid).
EVIDENCE_MAX_BYTES = env.int("EVIDENCE_MAX_BYTES", default=10 * 1024 * 1024)
SPENDING_CONVERSION = env.str("SPENDING_CONVERSION", default="average")
IMPORT_MAX_BYTES = env.int("IMPORT_MAX_BYTES", default=256 * 1024 * 1024)
IMPORT_BACKGROUND_BYTES = env.int("IMPORT_BACKGROUND_BYTES", default=2 * 1024 * 1024)
IMPORT_MAX_ROWS = env.int("IMPORT_MAX_ROWS", default=2_000_000)
# An XLSX is refused before openpyxl reads it past these: unpacked bytes of its parts, and cells.
IMPORT_MAX_XLSX_UNCOMPRESSED = env.int("IMPORT_MAX_XLSX_UNCOMPRESSED", default=1024 * 1024 * 1024)
IMPORT_MAX_XLSX_CELLS = env.int("IMPORT_MAX_XLSX_CELLS", default=50_000_000)
IMPORT_TASK_SOFT_TIME_LIMIT = env.int("IMPORT_TASK_SOFT_TIME_LIMIT", default=1800)
IMPORT_TASK_TIME_LIMIT = env.int("IMPORT_TASK_TIME_LIMIT", default=1900)

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
    # Import uploads nobody confirmed within a day, or that an ended job left: deleted.
    "import-uploads-delete-abandoned": {
        "task": "transfers.tasks.import_uploads_delete_abandoned",
        "schedule": crontab(minute=45),
    },
    # Audit packs whose worker died while making them: failed, saying so.
    "audit-packs-fail-stuck": {
        "task": "spending.tasks.audit_packs_fail_stuck",
        "schedule": crontab(minute="*/15"),
    },
    # Report runs whose worker died while generating them: failed, so they are made again.
    "report-runs-fail-stuck": {
        "task": "reports.tasks.report_runs_fail_stuck",
        "schedule": crontab(minute="*/15"),
    },
}

# The site's public address, as donors and staff reach it: the start of every link in donor emails.
# Outside DEBUG it must be set, and not to this machine (system check backoffice.E001-E003).
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000" if DEBUG else "")

# Delivery of donor summaries (delivery/).
DELIVERY_LINK_MAX_AGE_DAYS = env.int("DELIVERY_LINK_MAX_AGE_DAYS", default=30)
DELIVERY_MAX_ATTEMPTS = env.int("DELIVERY_MAX_ATTEMPTS", default=5)
DELIVERY_RETRY_BASE_SECONDS = env.float("DELIVERY_RETRY_BASE_SECONDS", default=60.0)
DELIVERY_RETRY_MAX_SECONDS = env.float("DELIVERY_RETRY_MAX_SECONDS", default=3600.0)
DELIVERY_STUCK_MINUTES = env.int("DELIVERY_STUCK_MINUTES", default=15)
# Contacts with no activity, and whose donor gave nothing, for this many years are listed for review
# (UK GDPR storage limitation; docs/privacy.md).
RETENTION_REVIEW_YEARS = env.int("RETENTION_REVIEW_YEARS", default=6)
DELIVERY_SEND_SOFT_TIME_LIMIT = env.int("DELIVERY_SEND_SOFT_TIME_LIMIT", default=120)
DELIVERY_GENERATION_POLL_SECONDS = env.int("DELIVERY_GENERATION_POLL_SECONDS", default=10)
# summary_prepare sends a run's emails itself for this long, then leaves the rest to delivery_send
# tasks: well inside its time limit (CELERY_TASK_SOFT_TIME_LIMIT) even if the last send hits EMAIL_TIMEOUT.
DELIVERY_INLINE_SEND_SECONDS = env.int("DELIVERY_INLINE_SEND_SECONDS", default=60)
DELIVERY_MESSAGE_ID_DOMAIN = env.str("DELIVERY_MESSAGE_ID_DOMAIN", default="fundtrace.invalid")

# Headers and limits for every page.
# One Content-Security-Policy for every response (django-csp): scripts, styles and images from our own
# static files. An inline <script> or <style> needs nonce="{{ request.csp_nonce }}". Library templates
# still carry a few inline attributes; each is allowed by the hash of its exact text and nothing else.
INSTALLED_APPS += ["csp", "django_ratelimit"]
MIDDLEWARE.insert(MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1, "csp.middleware.CSPMiddleware")


def _csp_hashes(*sources: str) -> list[str]:
    return [f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in sources]


CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        # django-import-export's export page: the "Select all" checkbox's handler and two label styles.
        "script-src-attr": [UNSAFE_HASHES, *_csp_hashes("onSelectToggleChange(event)")],
        "style-src-attr": [
            UNSAFE_HASHES,
            *_csp_hashes("padding: 0;", "font-weight: bold;"),
            # django-simple-history's history list paginator.
            *_csp_hashes("border-top: 0"),
        ],
    },
}

# The donors' download links (/d/) answer 429 past this many requests per client address, counted
# by django-ratelimit in a cache every web process shares: a table in the database (migration
# backoffice 0002), so a fresh machine needs no cache server.
DELIVERY_LINK_RATE_LIMIT = env.str("DELIVERY_LINK_RATE_LIMIT", default="30/m")
# The public /verify/ page (reports.views.verify): uploads larger than this are refused, and one client
# address may check at most this many files per period (counted like the download links).
VERIFY_MAX_BYTES = env.int("VERIFY_MAX_BYTES", default=20 * 1024 * 1024)
VERIFY_RATE_LIMIT = env.str("VERIFY_RATE_LIMIT", default="20/h")
for _name in ("DELIVERY_LINK_RATE_LIMIT", "VERIFY_RATE_LIMIT"):
    if not re.fullmatch(r"[1-9][0-9]*/[0-9]*[smhd]", vars()[_name]):
        raise ImproperlyConfigured(
            f"{_name}={vars()[_name]!r} is not a rate: write requests/period, "
            "where period is s, m, h or d, optionally with a count (for example 30/m, 100/h or 20/5m)."
        )
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "ratelimit": {
        "BACKEND": "backoffice.cache.DatabaseCache",
        "LOCATION": "backoffice_cache",
        # A full table is culled, live counts included: room for far more addresses than a window sees.
        "OPTIONS": {"MAX_ENTRIES": 100_000},
    },
}
RATELIMIT_USE_CACHE = "ratelimit"
# Behind a reverse proxy every request comes from the proxy's address: name the request header the
# proxy sets to the client's address, as Django's META key (e.g. HTTP_X_REAL_IP), and that the proxy
# overwrites whatever the client sent.
RATELIMIT_IP_META_KEY = env.str("RATELIMIT_IP_META_KEY", default="") or None
# django-ratelimit warns about any cache backend it does not list; this one's increment is atomic
# across processes (backoffice/cache.py, tests/backoffice/test_cache.py).
SILENCED_SYSTEM_CHECKS = ["django_ratelimit.W001"]

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
