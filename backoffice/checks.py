"""System checks of the settings that `manage.py check` (and migrate, runserver) run at startup."""

import ipaddress
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Warning, register

LOCAL_NAMES = ("localhost",)
LOCAL_SUFFIXES = (".localhost", ".local")
HINT = "Set SITE_URL to the address donors and staff open the site at, e.g. https://fundtrace.example.org."


def site_url_local(host: str) -> bool:
    """The host names this machine or the local network only: localhost, a loopback or unspecified
    address (127.0.0.1, ::1, 0.0.0.0), or an mDNS (.local) name."""
    host = host.lower().rstrip(".")
    if host in LOCAL_NAMES or host.endswith(LOCAL_SUFFIXES):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def _site_url_parts(url: str):
    """The URL's parts when it is an http(s) address with a host and nothing after its path; else None."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not host or parts.query or parts.fragment:
        return None
    return parts


def public_url_problem(url: str) -> str | None:
    """Why `url` cannot be the site's public address printed in reports and emails, or None.
    The same rules as SITE_URL's checks, for the organisation profile's URL (backoffice.models)."""
    parts = _site_url_parts(url)
    if parts is None:
        return f"{url!r} is not an http(s) address of the site (a scheme, a host, and nothing after the path)."
    if not settings.DEBUG and site_url_local(parts.hostname):
        return f"{url!r} points at this machine: donors could not open it."
    return None


@register()
def site_url_check(app_configs, **kwargs):
    """Outside DEBUG every link in a donor email starts with SITE_URL: it must reach the site from outside."""
    if settings.DEBUG:
        return []
    url = settings.SITE_URL
    if not url:
        return [
            Error("SITE_URL is not set: links in donor emails would lead nowhere.", hint=HINT, id="backoffice.E001")
        ]
    parts = _site_url_parts(url)
    if parts is None:
        return [Error(f"SITE_URL={url!r} is not an http(s) address of the site.", hint=HINT, id="backoffice.E002")]
    if site_url_local(parts.hostname):
        return [
            Error(
                f"SITE_URL={url!r} points at this machine: donors could not open the links in their emails.",
                hint=HINT,
                id="backoffice.E003",
            )
        ]
    return []


@register(deploy=True)
def site_url_https_check(app_configs, **kwargs):
    parts = _site_url_parts(settings.SITE_URL)
    if settings.DEBUG or parts is None or parts.scheme == "https":
        return []
    return [
        Warning(
            f"SITE_URL={settings.SITE_URL!r} is not https: donors' download links would travel unencrypted.",
            hint="Serve the site over HTTPS and start SITE_URL with https://.",
            id="backoffice.W001",
        )
    ]
