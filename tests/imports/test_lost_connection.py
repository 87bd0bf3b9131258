"""An import whose database connection is cut (pg_terminate_backend, from another connection)
while it runs: a clear message in the admin and on the command line, and nothing written."""

import contextlib
import os
import subprocess
import sys
import threading
import time

import psycopg
import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse

from tests.factories import role_user
from transfers.models import ImportJob

from .conftest import HEADER, counts

pytestmark = [pytest.mark.django_db(transaction=True)]

ROWS = HEADER + "".join(f"CUT-{i:03d},DON-0001,2025-03-02,{i}.00,GBP,,,,\n" for i in range(1, 51))
CUT = (
    "The database ended the import (terminating connection due to administrator command); "
    "nothing was imported. Run it again."
)


@contextlib.contextmanager
def connection_cut_when_waiting(table: str, mode: str, timeout: float = 30.0):
    """Lock `table` in `mode` from a connection of our own, so that the import waits for it when
    it reaches the table; terminate the backend that waits (the import's), then let go. Yields a
    list that holds the terminated backend's pid."""
    params = connection.get_connection_params()
    ready, cut = threading.Event(), []

    def hold_and_cut():
        with psycopg.connect(**params) as own:
            own.execute(f"LOCK TABLE {table} IN {mode} MODE")
            ready.set()
            deadline = time.monotonic() + timeout
            while not cut and time.monotonic() < deadline:
                waiting = own.execute(
                    "SELECT pid FROM pg_locks WHERE relation = %s::regclass AND NOT granted", [table]
                ).fetchall()
                for (pid,) in waiting:
                    own.execute("SELECT pg_terminate_backend(%s)", [pid])
                    cut.append(pid)
                time.sleep(0.05)
            own.rollback()

    thread = threading.Thread(target=hold_and_cut)
    thread.start()
    assert ready.wait(10), "could not lock the table"
    try:
        yield cut
    finally:
        thread.join()


def preview(client, content: str = ROWS):
    upload = SimpleUploadedFile("cut.csv", content.encode())
    return client.post(reverse("admin:donors_donation_import"), {"import_file": upload, "format": "0"})


def test_a_connection_cut_during_the_admin_import_gives_a_message_and_writes_nothing(ledger, client):
    client.force_login(role_user("Finance"))
    before = counts()
    confirm = preview(client).context["confirm_form"]
    with connection_cut_when_waiting("donors_donation", "EXCLUSIVE") as cut:  # reads go on, writes wait
        response = client.post(reverse("admin:donors_donation_process_import"), confirm.initial, follow=True)
    assert cut
    assert response.status_code == 200
    assert [str(m) for m in response.context["messages"]] == [CUT]
    job = ImportJob.objects.get()
    assert (job.status, job.failure) == ("failed", CUT)
    assert CUT in response.content.decode()  # the job's page
    assert counts() == before


def test_a_connection_cut_during_the_admin_preview_gives_a_message(ledger, client):
    client.force_login(role_user("Finance"))
    before = counts()
    with connection_cut_when_waiting("donors_donation", "ACCESS EXCLUSIVE") as cut:  # reads wait too
        response = preview(client)
    assert cut
    assert response.status_code == 302
    page = client.get(response["Location"])
    assert [str(m) for m in page.context["messages"]] == [CUT]
    assert "confirm_form" not in page.context
    assert ImportJob.objects.count() == 0  # nothing kept for a confirm
    assert counts() == before


def test_a_connection_cut_during_import_data_is_one_line_and_a_failure(ledger, tmp_path):
    path = tmp_path / "cut.csv"
    path.write_text(ROWS)
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "backoffice.test_settings",
        # host and port as options: the host may be a socket folder (the embedded server's)
        "DATABASE_URL": f"postgres://{db['USER']}@/{db['NAME']}?host={db['HOST']}&port={db['PORT'] or 5432}",
    }
    before = counts()
    with connection_cut_when_waiting("donors_donation", "EXCLUSIVE") as cut:
        done = subprocess.run(
            [sys.executable, "manage.py", "import_data", "donations", str(path)],
            capture_output=True,
            text=True,
            env=env,
            cwd=settings.BASE_DIR,
            timeout=120,
        )
    assert cut
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [f"CommandError: {CUT}"], done.stderr
    assert counts() == before
