import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backoffice.settings")

application = get_wsgi_application()

# What is loaded now (Django, the apps, their libraries, every view through the URLconf) lives as long
# as the process. Frozen, it is left out of the collector's full passes, which otherwise walked it
# every few dashboard requests and added about 100 ms to that request (bench/dashboard.py's p95).
# A server that forks its workers after loading the application also keeps those pages shared.
get_resolver().url_patterns  # noqa: B018 (loads every view module)
gc.freeze()
