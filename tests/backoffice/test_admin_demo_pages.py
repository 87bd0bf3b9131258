"""One smoke test per admin page, on the demo data (seeded once for this module)."""

import pytest
from django.contrib import admin

PAGES = sorted(
    m._meta.label_lower for m in admin.site._registry if m._meta.app_label in ("donors", "grants", "reports")
)


@pytest.fixture
def demo(demo_data, db):
    pass


@pytest.mark.parametrize("label", PAGES)
def test_admin_page_renders_on_demo_data(admin_client, demo, label):
    app, name = label.split(".")
    model = next(m for m in admin.site._registry if m._meta.label_lower == label)
    listing = admin_client.get(f"/admin/{app}/{name}/")
    assert listing.status_code == 200
    assert listing.context["cl"].result_count == model.objects.count()
    obj = model.objects.order_by("-pk").first()
    if obj is not None:
        assert admin_client.get(f"/admin/{app}/{name}/{obj.pk}/change/").status_code == 200
        assert admin_client.get(f"/admin/{app}/{name}/{obj.pk}/history/").status_code == 200
    assert admin_client.get(f"/admin/{app}/{name}/add/").status_code in (200, 403)
