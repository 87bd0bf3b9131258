import pytest
from django.conf import settings

from tests.factories import PASSWORD, role_user


def _login(client, password):
    return client.post("/admin/login/?next=/admin/", {"username": "finance", "password": password})


def test_login_is_locked_after_repeated_failures(client, db):
    role_user("Finance")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _login(client, "wrong").status_code == 200  # the form again, with an error
    assert _login(client, "wrong").status_code == 429  # the last allowed failure locks
    locked = _login(client, PASSWORD)
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/").status_code == 302  # still not logged in


def test_correct_password_logs_in_before_the_limit(client, db):
    role_user("Finance")
    _login(client, "wrong")
    assert _login(client, PASSWORD).status_code == 302
    assert client.get("/admin/").status_code == 200


def test_session_ends_after_idle_timeout(client, db):
    user = role_user("Finance")
    client.force_login(user)
    assert client.get("/admin/").status_code == 200
    session = client.session
    assert session.get_expiry_age() == settings.SESSION_COOKIE_AGE == 30 * 60
    session.set_expiry(-1)  # as if the idle timeout had passed
    session.save()
    assert client.get("/admin/").status_code == 302


def test_anonymous_users_are_sent_to_login(client, db):
    response = client.get("/admin/donors/donation/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


@pytest.mark.parametrize("url", ["/", "/admin/login/"])
def test_login_page_is_served(client, db, url):
    response = client.get(url, follow=True)
    assert response.status_code == 200
    assert "Fundtrace" in response.content.decode()


def test_dates_are_typed_and_shown_as_iso(client, finance_user):
    from tests.factories import PledgeFactory

    client.force_login(finance_user)
    pledge = PledgeFactory()
    page = client.get(f"/admin/donors/pledge/{pledge.pk}/change/").content.decode()
    assert 'value="2025-01-01"' in page
    assert 'value="01/01/2025"' not in page
