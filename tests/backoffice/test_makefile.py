"""`make run` serves on PORT (default 8000), and its donor links point at that port."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_commands(**env) -> str:
    if not shutil.which("make"):
        pytest.skip("make is missing")
    environ = {k: v for k, v in os.environ.items() if k not in ("PORT", "SITE_URL")} | env
    done = subprocess.run(["make", "-n", "run"], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    [line] = [line for line in done.stdout.splitlines() if "runserver" in line]
    return line


def test_make_run_serves_on_port():
    line = run_commands(PORT="8123")
    assert line.endswith("manage.py runserver 127.0.0.1:8123")
    assert "SITE_URL=${SITE_URL:-http://127.0.0.1:8123}" in line


def test_make_run_defaults_to_port_8000():
    assert run_commands().endswith("runserver 127.0.0.1:8000")
