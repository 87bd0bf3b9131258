"""SITE_URL: the site's public address starts every link in donor emails, and outside DEBUG startup
fails a system check while it is unset, not an address, or this machine's."""

import pytest
from django.core.checks import Error, Warning
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from backoffice.checks import site_url_check, site_url_https_check
from delivery.links import delivery_link


def ids(messages) -> list[str]:
    return [m.id for m in messages]


def test_unset_outside_debug_is_an_error(settings):
    settings.DEBUG, settings.SITE_URL = False, ""
    [error] = site_url_check(None)
    assert isinstance(error, Error) and error.id == "backoffice.E001"
    assert "SITE_URL is not set" in error.msg


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000",
        "http://localhost:8000/",
        "https://LOCALHOST",
        "http://[::1]:8000",
        "http://127.0.1.1",
        "http://0.0.0.0:8000",
        "https://fundtrace.local",
        "https://app.localhost",
    ],
)
def test_this_machines_address_outside_debug_is_an_error(settings, url):
    settings.DEBUG, settings.SITE_URL = False, url
    [error] = site_url_check(None)
    assert isinstance(error, Error) and error.id == "backoffice.E003"
    assert url in error.msg and "points at this machine" in error.msg


@pytest.mark.parametrize(
    "url", ["fundtrace.example.org", "ftp://fundtrace.example.org", "https://", "https://x.org/?a=1"]
)
def test_something_that_is_not_an_address_is_an_error(settings, url):
    settings.DEBUG, settings.SITE_URL = False, url
    assert ids(site_url_check(None)) == ["backoffice.E002"]


@pytest.mark.parametrize("url", ["https://fundtrace.example.org", "https://donors.example.org/fundtrace/"])
def test_a_public_https_address_is_fine(settings, url):
    settings.DEBUG, settings.SITE_URL = False, url
    assert site_url_check(None) == []
    assert site_url_https_check(None) == []


def test_a_public_address_without_https_is_a_deployment_warning(settings):
    settings.DEBUG, settings.SITE_URL = False, "http://fundtrace.example.org"
    assert site_url_check(None) == []
    [warning] = site_url_https_check(None)
    assert isinstance(warning, Warning) and warning.id == "backoffice.W001"


def test_debug_allows_the_local_default(settings):
    settings.DEBUG, settings.SITE_URL = True, "http://127.0.0.1:8000"
    assert site_url_check(None) == [] and site_url_https_check(None) == []


def test_manage_py_check_fails_on_it(settings):
    settings.DEBUG, settings.SITE_URL = False, "http://localhost:8000"
    with pytest.raises(SystemCheckError, match="backoffice.E003"):
        call_command("check")
    settings.SITE_URL = "https://fundtrace.example.org"
    call_command("check")


def test_download_links_start_with_the_site_url(settings):
    settings.SITE_URL = "https://donors.example.org/fundtrace/"
    assert delivery_link(42).startswith("https://donors.example.org/fundtrace/d/")
