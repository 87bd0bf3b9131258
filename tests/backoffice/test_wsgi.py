"""The WSGI application a server loads: set up, with what it loaded left out of the collector's full passes."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_loading_the_application_freezes_what_it_loaded():
    code = (
        "import gc, sys\n"
        "import backoffice.wsgi\n"
        "print(gc.get_freeze_count(), 'dashboard.views' in sys.modules, 'reports.views' in sys.modules)\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "backoffice.settings", "DEBUG": "1"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)  # noqa: S603
    frozen, dashboard, reports = out.stdout.split()
    assert int(frozen) > 50_000  # Django, the apps and their libraries: over 100,000 objects
    assert (dashboard, reports) == ("True", "True")  # every view, through the URLconf
