import pytest
from django.contrib.auth.models import Group

from backoffice import roles


def perms(role: str, app: str) -> set[str]:
    group = Group.objects.get(name=role)
    return {
        f"{app}.{codename}"
        for codename in group.permissions.filter(content_type__app_label=app).values_list("codename", flat=True)
    }


def edit(*models):
    return {f"grants.{action}_{m}" for m in models for action in ("add", "change", "view")}


def view(*models):
    return {f"grants.view_{m}" for m in models}


GRANT_MODELS = ("programme", "output", "indicator", "allocation", "reportingobligation")


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        (
            roles.FINANCE,
            view(*GRANT_MODELS) | edit("allocation", "reportingobligation") | {"grants.reverse_allocation"},
        ),
        (roles.PROGRAMME, edit("programme", "output", "indicator", "reportingobligation") | view("allocation")),
        (roles.LEADERSHIP, view(*GRANT_MODELS)),
        (roles.AUDITOR, view(*GRANT_MODELS)),
    ],
)
def test_grants_permission_matrix(db, role, expected):
    assert perms(role, "grants") == expected


def test_no_role_deletes_a_money_record(db):
    for role in roles.ROLES:
        held = perms(role, "grants") | perms(role, "donors")
        assert "grants.delete_allocation" not in held
        assert "donors.delete_donation" not in held and "donors.delete_writeoff" not in held


def test_programme_cannot_allocate_and_finance_cannot_edit_outputs(db):
    assert "grants.add_allocation" not in perms(roles.PROGRAMME, "grants")
    assert "grants.change_output" not in perms(roles.FINANCE, "grants")
    assert "grants.change_indicator" in perms(roles.PROGRAMME, "grants")
