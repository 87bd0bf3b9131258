"""The reports page's "send donor summaries" form: permission-checked, with progress counts."""

import pytest

from delivery.models import Delivery
from tests.delivery.conftest import donor_with_gift
from tests.factories import role_user

pytestmark = pytest.mark.django_db


def test_finance_sends_from_the_reports_page_after_a_preview_and_sees_progress(
    client, finance_user, smtp, eager_celery, django_capture_on_commit_callbacks
):
    import re

    donor_with_gift(reporting=1, silent=0)
    client.force_login(finance_user)
    page = client.get("/reports/").content.decode()
    assert "Send donor summaries" in page and 'action="/reports/summaries/preview/"' in page
    query = {"start": "2025-01-01", "end": "2025-12-31", "audience": "all", "donors": ""}
    preview = client.get("/reports/summaries/preview/", query).content.decode()
    assert smtp.messages == []
    token = re.search(r'name="token" value="([^"]+)"', preview).group(1)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/reports/summaries/send/", {"token": token})
    assert response.status_code == 302
    assert len(smtp.messages) == 1
    page = client.get(response["Location"]).content.decode()
    assert "deliveries pending 0, sending 0, sent 1, failed 0" in page


def test_a_role_without_the_permission_cannot_send(client, smtp):
    donor_with_gift(reporting=1, silent=0)
    client.force_login(role_user("Leadership"))
    assert "Send donor summaries" not in client.get("/reports/").content.decode()
    response = client.post("/reports/summaries/send/", {"start": "2025-01-01", "end": "2025-12-31"})
    assert response.status_code == 403
    assert not Delivery.objects.exists()
