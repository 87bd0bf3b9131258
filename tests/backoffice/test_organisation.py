"""The organisation profile: one row, a logo checked by its bytes, changed in the admin by an administrator."""

import io

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError
from PIL import Image

from backoffice.logo import LOGO_MAX_BYTES, logo_check
from backoffice.models import Organisation
from tests.factories import role_user

pytestmark = pytest.mark.django_db

SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20"><rect width="40" height="20" fill="#123"/></svg>'


def png(width=200, height=100) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), "#2f5d8a").save(out, "PNG")
    return out.getvalue()


def test_the_migration_makes_the_one_row_and_there_is_never_a_second():
    assert Organisation.objects.count() == 1 and Organisation.current().name == "Safe Online Alliance"
    with pytest.raises(IntegrityError):
        Organisation.objects.create(id=2, name="Another", email="a@example.org", sender_email="b@example.org")


def test_a_png_and_an_svg_are_accepted_by_their_bytes_whatever_their_name():
    assert logo_check(png(), name="logo.svg") == "png"
    assert logo_check(SVG, name="logo.png") == "svg"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"GIF89a" + b"\0" * 100, "logo.png is neither a PNG nor an SVG image"),
        (png(20, 20), "logo.png is 20 × 20 pixels; a PNG logo must be 64 to 4000 pixels a side."),
        (png(5000, 100), "logo.png is 5000 × 100 pixels"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 50, "logo.png is not a readable PNG"),
        (
            b"<svg" + b" " * LOGO_MAX_BYTES + b"/>",
            f"logo.png is {LOGO_MAX_BYTES + 6:,} bytes; a logo may be at most 512 KB",
        ),
        (
            b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:x="http://www.w3.org/1999/xlink" width="9" height="9">'
            b'<image x:href="file:///etc/passwd" width="9" height="9"/></svg>',
            "logo.png contains <image>",
        ),
        (
            b'<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"><use href="other.svg#a"/></svg>',
            "logo.png refers to 'other.svg#a'",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
            b'<svg xmlns="http://www.w3.org/2000/svg"><text>&e;</text></svg>',
            "logo.png is not a well-formed SVG without a DTD",
        ),
        (b"<svg><rect/></svg>", "logo.png is not an SVG: its root element is <svg>"),
    ],
)
def test_a_bad_logo_is_refused_with_what_is_wrong(data, message):
    with pytest.raises(ValidationError) as refused:
        logo_check(data, name="logo.png")
    assert message in refused.value.messages[0]


def test_a_logo_is_stored_privately_under_its_digest_and_an_old_one_is_kept():
    profile = Organisation.current()
    profile.logo = ContentFile(SVG, name="first.svg")
    profile.full_clean()
    profile.save()
    first = profile.logo.name
    assert first == f"organisation/logo-{profile.logo_sha256}.svg"
    profile.logo = ContentFile(png(), name="second.png")
    profile.full_clean()
    profile.save()
    assert profile.logo.name.endswith(".png") and profile.logo.storage.exists(first)  # old reports still draw it


def test_a_public_url_on_this_machine_is_refused_outside_debug(settings):
    settings.DEBUG = False
    profile = Organisation.current()
    profile.public_url = "http://127.0.0.1:8000"
    with pytest.raises(ValidationError) as refused:
        profile.full_clean()
    assert "points at this machine" in refused.value.message_dict["public_url"][0]


def test_the_printed_address_is_the_profiles_else_site_url(settings):
    profile = Organisation.current()
    assert profile.snapshot()["verify_url"] == "http://testserver/verify/"
    profile.public_url = "https://donors.alliance.example.org/"
    assert profile.snapshot()["verify_url"] == "https://donors.alliance.example.org/verify/"


def admin_post(client, **changes):
    profile = Organisation.current()
    data = {
        "name": profile.name, "address": profile.address, "email": profile.email, "website": profile.website,
        "registration": profile.registration, "sender_email": profile.sender_email, "public_url": profile.public_url,
        "iati_identifier": profile.iati_identifier, "iati_type": profile.iati_type,
    }  # fmt: skip
    return client.post("/admin/backoffice/organisation/1/change/", data | changes)


def test_an_administrator_uploads_a_logo_in_the_admin(admin_client):
    answer = admin_post(admin_client, logo=SimpleUploadedFile("logo.png", png(), "image/png"))
    assert answer.status_code == 302
    assert Organisation.current().logo_format == "png"
    page = admin_client.get("/admin/backoffice/organisation/1/change/").content.decode()
    assert 'alt="The logo of Safe Online Alliance"' in page and "data:image/png;base64," in page


def test_a_bad_logo_in_the_admin_is_refused_and_nothing_is_saved(admin_client):
    answer = admin_post(admin_client, name="Changed", logo=SimpleUploadedFile("logo.png", png(10, 10), "image/png"))
    assert answer.status_code == 200
    assert "logo.png is 10 × 10 pixels" in answer.content.decode()
    assert Organisation.current().name == "Safe Online Alliance" and not Organisation.current().logo


def test_the_iati_identifier_is_set_in_the_admin_and_a_malformed_one_refused(admin_client):
    assert admin_post(admin_client, iati_identifier="GB CHC 1234567").status_code == 200
    assert Organisation.current().iati_identifier == ""
    assert admin_post(admin_client, iati_identifier="GB-CHC-1234567", iati_type="21").status_code == 302
    assert (Organisation.current().iati_identifier, Organisation.current().iati_type) == ("GB-CHC-1234567", "21")


def test_a_role_reads_the_profile_but_cannot_change_it(client):
    client.force_login(role_user("Finance"))
    assert client.get("/admin/backoffice/organisation/1/change/").status_code == 200
    assert admin_post(client, name="Changed by Finance").status_code == 403
    assert Organisation.current().name == "Safe Online Alliance"
