"""The donors' download links answer 429 to an address past DELIVERY_LINK_RATE_LIMIT, good tokens or bad."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from delivery.links import delivery_token
from delivery.models import Delivery
from delivery.services import summaries_request
from reports.services import report_run_generate
from tests.delivery.conftest import END, START, donor_with_gift

pytestmark = pytest.mark.django_db

PROBER, DONOR = "198.51.100.7", "203.0.113.9"


@pytest.fixture
def token():
    donor_with_gift(reporting=1, silent=0)
    [run_id] = summaries_request(start=START, end=END)
    report_run_generate(run_id=run_id)
    return delivery_token(Delivery.objects.get().pk)


@pytest.fixture
def limit(settings):
    settings.DELIVERY_LINK_RATE_LIMIT = "5/d"  # a day's window: the test never straddles two
    return 5


def test_past_the_limit_an_address_gets_429_and_another_address_does_not(client, token, limit):
    for n in range(limit):
        assert client.get(f"/d/forged-{n}/", REMOTE_ADDR=PROBER).status_code == 404
    refused = client.get(f"/d/{token}/", REMOTE_ADDR=PROBER)
    assert refused.status_code == 429
    assert "Too many requests" in refused.content.decode()
    assert 0 < int(refused["Retry-After"]) <= 86400
    assert "no-store" in refused["Cache-Control"] and "default-src 'self'" in refused["Content-Security-Policy"]
    served = client.get(f"/d/{token}/", REMOTE_ADDR=DONOR)
    assert served.status_code == 200
    assert b"".join(served.streaming_content).startswith(b"%PDF")


def test_good_links_count_too(client, token, limit):
    for _ in range(limit):
        assert client.get(f"/d/{token}/", REMOTE_ADDR=DONOR).status_code == 200
    assert client.get(f"/d/{token}/", REMOTE_ADDR=DONOR).status_code == 429


def test_behind_a_proxy_the_named_header_is_the_address(client, token, limit, settings):
    settings.RATELIMIT_IP_META_KEY = "HTTP_X_REAL_IP"
    for n in range(limit):
        client.get(f"/d/forged-{n}/", REMOTE_ADDR="10.0.0.2", HTTP_X_REAL_IP=PROBER)
    assert client.get(f"/d/{token}/", REMOTE_ADDR="10.0.0.2", HTTP_X_REAL_IP=PROBER).status_code == 429
    assert client.get(f"/d/{token}/", REMOTE_ADDR="10.0.0.2", HTTP_X_REAL_IP=DONOR).status_code == 200


def test_a_rate_that_is_not_one_stops_startup_and_names_the_setting():
    env = {**os.environ, "DELIVERY_LINK_RATE_LIMIT": "thirty a minute", "SECRET_KEY": "x" * 50}
    done = subprocess.run(
        [sys.executable, "-c", "import backoffice.settings"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "DELIVERY_LINK_RATE_LIMIT='thirty a minute' is not a rate" in done.stderr
