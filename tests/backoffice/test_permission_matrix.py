"""Every role against every admin URL and action, generated from the admin's own URL list and
checked against a hand-written permission matrix: allowed (below 400) or refused (403, nothing changed)."""

import datetime as dt
import importlib
from decimal import Decimal

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django import forms
from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models.fields.files import FieldFile

from backoffice import roles
from delivery.models import Delivery, Mailing, ReminderSent
from donors import services
from donors.models import Activity, Donation, Donor, DonorMerge, DonorRelationship
from grants.models import Allocation, Indicator, ReportingObligation
from journals.services import journal_export
from privacy.models import ErasureRequest, SubjectAccessRequest
from reports.models import ReportRun
from spending import services as spending
from tests.admin_helpers import inline_management
from tests.conftest import _kept_for_module
from tests.factories import (
    BatchFactory,
    ContactFactory,
    DonationFactory,
    DonorFactory,
    OutputFactory,
    PledgeFactory,
    RateFactory,
    role_user,
)
from tests.journals.helpers import account_map, posted_batch
from tests.spending.helpers import agreement_with_budget, line
from transfers.models import ImportJob

EDIT, VIEW, NONE = "edit", "view", None
F, P, L, A = roles.FINANCE, roles.PROGRAMME, roles.LEADERSHIP, roles.AUDITOR


def _access(finance, programme, leadership, auditor):
    return {F: finance, P: programme, L: leadership, A: auditor}


# What each role may do with each admin page. Written out by hand on purpose: this is the
# specification the roles module and the admin classes are checked against, not a copy of them.
MATRIX = {
    "donors.donor": _access(EDIT, VIEW, VIEW, VIEW),
    "donors.contact": _access(EDIT, NONE, VIEW, VIEW),
    "donors.pledge": _access(EDIT, VIEW, VIEW, VIEW),
    "donors.instalment": _access(VIEW, NONE, VIEW, VIEW),  # read-only: schedules are edited on the pledge page
    "donors.donation": _access(EDIT, NONE, VIEW, VIEW),
    "donors.donationbatch": _access(EDIT, NONE, VIEW, VIEW),
    "donors.exchangerate": _access(EDIT, NONE, VIEW, VIEW),
    "donors.writeoff": _access(EDIT, NONE, VIEW, VIEW),
    "donors.activity": _access(EDIT, NONE, EDIT, VIEW),  # meetings and next steps: finance and leadership meet donors
    # Merge events: made and undone by Finance on the donor pages, read by whoever reads the ledger.
    "donors.donormerge": _access(VIEW, NONE, VIEW, VIEW),
    # Soft credits: recorded (and taken back) by Finance on the donation pages, read by whoever reads the ledger.
    "donors.softcredit": _access(EDIT, NONE, VIEW, VIEW),
    "grants.programme": _access(VIEW, EDIT, VIEW, VIEW),
    "grants.output": _access(VIEW, EDIT, VIEW, VIEW),
    "grants.indicator": _access(VIEW, EDIT, VIEW, VIEW),
    "grants.allocation": _access(EDIT, VIEW, VIEW, VIEW),
    "grants.reportingobligation": _access(EDIT, EDIT, VIEW, VIEW),
    "spending.agreement": _access(EDIT, VIEW, VIEW, VIEW),
    "spending.budgetversion": _access(EDIT, VIEW, VIEW, VIEW),
    "spending.expense": _access(EDIT, VIEW, VIEW, VIEW),
    # Written on the agreement's variances page (Finance, below), listed read-only here for every reader.
    "spending.varianceexplanation": _access(VIEW, VIEW, VIEW, VIEW),
    # Records the system writes: everyone who reads the ledger reads them; nobody edits them here.
    "reports.reportrun": _access(VIEW, NONE, VIEW, VIEW),
    "delivery.delivery": _access(VIEW, NONE, VIEW, VIEW),
    "delivery.remindersent": _access(VIEW, NONE, VIEW, VIEW),
    "delivery.mailing": _access(VIEW, NONE, VIEW, VIEW),
    "transfers.importjob": _access(VIEW, VIEW, VIEW, VIEW),  # Programme: the jobs of the kinds it imports
    "privacy.subjectaccessrequest": _access(VIEW, NONE, NONE, NONE),  # personal data: finance answers requests
    # Journals for the general ledger: Finance keeps the map and exports; whoever reads the ledger reads the log.
    "journals.accountmap": _access(EDIT, NONE, VIEW, VIEW),
    "journals.journalexport": _access(VIEW, NONE, VIEW, VIEW),
    "journals.ledgerbatch": _access(VIEW, NONE, VIEW, VIEW),
    # Erasures: Finance asks, Finance or Leadership approves on the request's own page (tests/privacy).
    "privacy.erasurerequest": _access(VIEW, NONE, VIEW, NONE),
    # The organisation profile: what the reports print, read by all; only a superuser changes it.
    "backoffice.organisation": _access(VIEW, VIEW, VIEW, VIEW),
    # Users, roles and login records are a superuser's.
    "auth.user": _access(NONE, NONE, NONE, NONE),
    "auth.group": _access(NONE, NONE, NONE, NONE),
    "axes.accessattempt": _access(NONE, NONE, NONE, NONE),
    "axes.accesslog": _access(NONE, NONE, NONE, NONE),
    "axes.accessfailurelog": _access(NONE, NONE, NONE, NONE),
}

# Nobody but a superuser deletes a money record; contacts are not money.
DELETABLE = {("donors.contact", F), ("donors.softcredit", F)}  # a soft credit moves no money

_LEDGER_FILES = ("donors.donor", "donors.contact", "donors.pledge", "donors.donation", "donors.exchangerate")
_GRANT_FILES = ("grants.output", "grants.indicator", "grants.allocation")
_SPENDING_FILES = ("spending.expense",)
IMPORTS = {label: {F} for label in (*_LEDGER_FILES, "grants.allocation", *_SPENDING_FILES)} | {
    "grants.output": {P},
    "grants.indicator": {P},
    "transfers.importjob": {P},  # the go-ahead for the ledger fixture's job, a file of outputs
}
EXPORTS = {label: {F, L, A} for label in (*_LEDGER_FILES, *_GRANT_FILES, *_SPENDING_FILES)} | {
    "grants.output": {F, P, L, A},
    "grants.indicator": {F, P, L, A},
    "journals.journalexport": {F},  # "Export a journal": a new journal of what is not yet exported
}

# The donation page's Post and Reverse confirmation pages (donors.admin_posting).
POSTING = {"donors.donation": {F}, "spending.expense": {F}}

# Admin actions other than delete_selected (which follows DELETABLE), and who may run them.
ACTIONS = {
    ("donors.donation", "post_selected"): {F},
    ("donors.donation", "reverse_selected"): {F},
    ("donors.donation", "auto_allocate_selected"): {F},
    ("donors.donationbatch", "post_selected"): {F},
    ("donors.activity", "mark_next_steps_done"): {F, L},
    ("donors.contact", "export_subject_access"): {F},
    ("donors.writeoff", "reverse_selected"): {F},
    ("grants.allocation", "reverse_selected"): {F},
    ("grants.reportingobligation", "submit_today"): {F, P},
    ("spending.budgetversion", "approve_selected"): {F},
    ("donors.donor", "generate_donor_summary"): {F, L},
    ("grants.output", "generate_output_statement"): {F, L},
    ("reports.reportrun", "make_again"): {F, L},
    ("delivery.delivery", "revoke_links"): {F},
    ("delivery.delivery", "resend"): {F},
    ("transfers.importjob", "fail_stuck"): {F, P},
    ("axes.accessattempt", "cleanup_expired_attempts"): set(),
    ("journals.ledgerbatch", "export_xero"): {F},
    ("journals.ledgerbatch", "export_quickbooks"): {F},
    ("journals.ledgerbatch", "export_generic"): {F},
}


# The reports and dashboard pages outside the admin (backoffice.access.PageAccess), and who opens them.
# Leadership and the Auditor read everything and export: the Auditor reads and downloads every report
# (PDF, workbook, HTML version) but never asks for one nor submits one to a funder.
REPORT_PAGES = {
    "reports.views.REPORTS": {F, L, A},
    "reports.views.REPORT_REQUEST": {F, L},
    "reports.views.REPORT_PDF": {F, L, A},
    "reports.views.REPORT_XLSX": {F, L, A},
    "reports.views.REPORT_HTML": {F, L, A},
    "reports.views.REPORT_SUBMIT": {F, L},
    "dashboard.views.DASHBOARD": {F, L, A},
    "dashboard.views.PORTFOLIO_PDF": {F, L},
    "dashboard.views.PORTFOLIO_PDF_STATUS": {F, L, A},
}


@pytest.fixture(scope="module")
def _ledger_rows(django_db_blocker):
    """Made once for the module's 300-odd tests (tests/conftest.py `_kept_for_module`): each test
    rolls back what it changes. Made for each test, it cost 0.3 s a test, 100 s of the suite."""
    with _kept_for_module(django_db_blocker):
        yield _ledger_make()


@pytest.fixture
def ledger(_ledger_rows, db):
    """One row of every kind, so every admin page has something to show; returns their owner, a superuser."""
    return _ledger_rows


def _ledger_make():
    by = get_user_model().objects.create_superuser("owner", "o@example.org", "x")
    pledge = PledgeFactory()
    contact = ContactFactory(donor=pledge.donor)
    RateFactory()
    BatchFactory()
    services.instalments_replace(pledge=pledge, rows=[(dt.date(2025, 1, 1), pledge.total)])
    posted = services.donation_post(donation=DonationFactory(donor=pledge.donor, pledge=pledge), by=by)
    DonationFactory(reference="DRAFT-1")
    services.soft_credit_create(donation=posted, donor=DonorFactory(), kind="matched", by=by)
    services.pledge_write_off(pledge=pledge, amount=Decimal("1.00"), reason="r", by=by)
    output = OutputFactory()
    Indicator.objects.create(output=output, name="Downloads", unit="downloads", target=Decimal("1000"))
    Allocation.objects.create(donation=posted, output=output, amount=Decimal("10.00"), allocated_on=dt.date.today())
    ReportingObligation.objects.create(pledge=pledge, kind="narrative", due_date=dt.date(2026, 1, 1))
    Activity.objects.create(
        donor=pledge.donor, contact=contact, kind="meeting", happened_on=dt.date(2025, 3, 1), summary="Met",
        next_step="Send the framework", next_step_on=dt.date(2025, 3, 15), owner=by,
    )  # fmt: skip
    DonorRelationship.objects.create(donor=pledge.donor, kind="agency", parent=DonorFactory())
    SubjectAccessRequest.objects.create(contact=contact, requested_by=by)
    ErasureRequest.objects.create(contact=contact, requested_by=by, reason="Asked by email", label="Erased contact")
    agreement = agreement_with_budget()
    spending.expense_post(
        expense=spending.expense_create(
            reference="INV-1", incurred_on=dt.date(2025, 3, 1), paid_on=dt.date(2025, 3, 1), payee="Venue",
            description="Summit", amount=Decimal("10.00"), currency="GBP",
            charges=[spending.NewCharge(line(agreement, "A1"), amount=Decimal("10.00"))],
        ),
        by=by,
    )  # fmt: skip
    spending.variance_explanation_save(
        agreement=agreement, start=dt.date(2025, 1, 1), end=dt.date(2025, 12, 31), line_code="A1", text="Why", by=by
    )
    run = ReportRun.objects.create(kind=ReportRun.Kind.DONOR_SUMMARY, donor=pledge.donor, requested_by=by)
    Delivery.objects.create(run=run, contact=contact, email=contact.email)
    ReminderSent.objects.create(week="2025-W09")
    Mailing.objects.create(
        nonce="0" * 32, period_start=dt.date(2025, 1, 1), period_end=dt.date(2025, 12, 31), everyone=True,
        reports=1, contacts=1, skipped=0, confirmed_by=by,
    )  # fmt: skip
    ImportJob.objects.create(
        kind="outputs", file="imports/outputs.csv", file_name="outputs.csv", file_size=10, requested_by=by
    )
    DonorMerge.objects.create(survivor=pledge.donor, loser=DonorFactory(), merged_by=by)
    AccessAttempt.objects.create(username="someone", ip_address="192.0.2.1", failures_since_start=1)
    AccessLog.objects.create(username="someone", ip_address="192.0.2.1")
    AccessFailureLog.objects.create(username="someone", ip_address="192.0.2.1", locked_out=False)
    journal_ledger(by)
    return by


def journal_ledger(by) -> None:
    """An account map and one logged journal export (of a posted batch)."""
    account_map()
    batch = posted_batch(amounts=[Decimal("5.00")], reference="B-JOURNAL", by=by)
    journal_export(format="generic", batch_ids=[batch.pk], by=by)


def _registered(label):
    for model, model_admin in admin.site._registry.items():
        if model._meta.label_lower == label:
            return model, model_admin
    raise AssertionError(f"{label} has no admin page")


def test_every_admin_page_is_in_the_matrix():
    assert {m._meta.label_lower for m in admin.site._registry} == set(MATRIX)


def test_every_admin_action_is_in_the_spec():
    declared = {
        (model._meta.label_lower, name)
        for model, model_admin in admin.site._registry.items()
        for _, name, _ in model_admin._get_base_actions()
        if name != "delete_selected"
    }
    assert declared == set(ACTIONS)


# --- Every URL of every admin page, generated from the admin's own URL list ----------------------

# What each kind of admin URL needs, by the end of its URL name; a URL of a new kind fails
# test_every_admin_url_has_a_rule until it is given one here.
NEEDS = {
    "changelist": "view",
    "change": "view",
    "history": "view",
    "simple_history": "view",  # a past version: shown, never saved (backoffice.admin_tools.HistoryAdmin)
    "object": "view",  # /<pk>/ redirects to the change page
    "add": "add",
    "delete": "delete",
    "import": "import",
    "process_import": "import",
    "export": "export",
    "confirm": "import",  # an ImportJob's go-ahead
    "import_template": "import",
    "errors": "uploader",  # an ImportJob's errors as CSV: the user who uploaded the file, no role
    "post": "posting",  # a draft donation's confirmation page
    "reverse": "posting",  # a posted donation's, with the reason
    "password_change": "superuser",
    "duplicates": "merges",  # the review list of likely pairs (its POST dismisses one: merging)
    "merge": "merging",  # a donor's merge preview and confirmation
    "undo": "merging",  # a merge's undo
    "variances": "variances",  # an agreement's flagged lines: read by its readers, explained by Finance
}
POST_ONLY = {"process_import"}  # answers a GET with 405 whoever asks
# The kinds whose POST writes; a role that may not use the URL must get 403 and change nothing.
WRITES = {"change", "simple_history", "add", "delete", "import", "process_import", "confirm", "password_change"}
WRITES |= {"post", "reverse", "merge", "undo"}


def _url_kind(label, pattern) -> str:
    if pattern.name is None:
        return "object"
    prefix = label.replace(".", "_") + "_"
    assert pattern.name.startswith(prefix), pattern.name
    return pattern.name.removeprefix(prefix)


def admin_urls():
    """(label, URL kind) for every URL pattern of every registered ModelAdmin."""
    return sorted(
        {
            (model._meta.label_lower, _url_kind(model._meta.label_lower, p))
            for model, ma in admin.site._registry.items()
            for p in ma.urls
        }
    )


def test_every_admin_url_has_a_rule():
    assert not [(label, kind) for label, kind in admin_urls() if kind not in NEEDS]


def _allowed(label, kind, role) -> bool:
    need = NEEDS[kind]
    access = MATRIX[label][role]
    return {
        "view": access in (VIEW, EDIT),
        "add": access == EDIT,
        "delete": (label, role) in DELETABLE,
        "import": role in IMPORTS.get(label, ()),
        "export": role in EXPORTS.get(label, ()),
        "posting": role in POSTING.get(label, ()),
        "merging": role == F,
        "merges": MATRIX["donors.donormerge"][role] in (VIEW, EDIT),
        "variances": MATRIX["spending.varianceexplanation"][role] in (VIEW, EDIT),
        "superuser": False,
        "uploader": False,
    }[need]


def _url(label, kind, obj) -> str:
    app, name = label.split(".")
    base = f"/admin/{app}/{name}/"
    if kind == "simple_history":
        version = getattr(obj, type(obj)._meta.simple_history_manager_attribute).first()  # this object's versions
        return f"{base}{obj.pk}/history/{version.history_id}/"
    return (
        base
        + {
            "changelist": "",
            "change": f"{obj.pk}/change/",
            "history": f"{obj.pk}/history/",
            "object": f"{obj.pk}/",
            "add": "add/",
            "delete": f"{obj.pk}/delete/",
            "import": "import/",
            "process_import": "process_import/",
            "export": "export/",
            "confirm": f"{obj.pk}/confirm/",
            "import_template": "import/template/",
            "errors": f"{obj.pk}/errors/",
            "post": f"{obj.pk}/post/",
            "reverse": f"{obj.pk}/reverse/",
            "duplicates": "duplicates/",
            "merge": f"{obj.pk}/merge/",
            "undo": f"{obj.pk}/undo/",
            "variances": f"{obj.pk}/variances/",
            "password_change": f"{obj.pk}/password/",
        }[kind]
    )


def _snapshot() -> dict:
    """Every row of every table but the sessions: what a refused request must leave alone."""
    return {
        model._meta.label: list(model._base_manager.order_by("pk").values())
        for model in apps.get_models()
        if model._meta.managed and not model._meta.proxy and model._meta.label != "sessions.Session"
    }


def _browser_post_data(client, url) -> dict:
    """What a browser would send from the page at `url` as a superuser sees it, with one text
    field changed: a request that succeeds for whoever may make it."""
    page = client.get(url)
    if page.status_code != 200 or "adminform" not in (page.context or {}):
        return {"post": "yes"}
    form = page.context["adminform"].form
    data = inline_management(page) if "inline_admin_formsets" in page.context else {}
    changed = False
    for name, field in form.fields.items():
        value = form[name].value()
        if not changed and type(field) is forms.CharField and not field.disabled:
            value, changed = "Changed by the permission test", True
        if value is None or value is False or isinstance(value, FieldFile):  # a browser never sends a stored file
            continue
        data[name] = (
            [getattr(v, "pk", v) for v in value] if isinstance(value, list | tuple) else getattr(value, "pk", value)
        )
    return data


@pytest.mark.parametrize("role", roles.ROLES)
@pytest.mark.parametrize("label", sorted(MATRIX))
def test_role_against_every_admin_url(client, ledger, role, label):
    """GET every URL the admin serves for the model: below 400 where the matrix allows the role, 403
    where not. POST every writing URL the role may not use, as a browser would: 403, nothing changed."""
    model, model_admin = _registered(label)
    obj = model._base_manager.order_by("pk").first()
    user = role_user(role)
    wrong = []
    for url_label, kind in admin_urls():
        if url_label != label:
            continue
        url = _url(label, kind, obj)
        allowed = _allowed(label, kind, role)
        client.force_login(ledger)
        data = _browser_post_data(client, url) if kind in WRITES else None
        client.force_login(user)
        status = client.get(url, follow=kind == "object").status_code  # /<pk>/ answers as the change page
        if kind not in POST_ONLY and ((status >= 400) if allowed else (status != 403)):
            wrong.append(f"GET {url}: {status}, but the role {'may' if allowed else 'may not'} use it")
        if data is not None and not (allowed and kind != "simple_history"):
            before = _snapshot()
            status = client.post(url, data).status_code
            if status != 403 or _snapshot() != before:
                wrong.append(f"POST {url}: {status}, and {'changed' if _snapshot() != before else 'left'} the data")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("role", roles.ROLES)
@pytest.mark.parametrize("label", sorted(MATRIX))
def test_role_against_every_admin_action(client, ledger, role, label):
    """The actions offered are exactly the spec's; one not offered, forged into a POST, changes nothing."""
    model, model_admin = _registered(label)
    app, name = label.split(".")
    client.force_login(role_user(role))
    expected = {action for (lbl, action), who in ACTIONS.items() if lbl == label and role in who}
    if (label, role) in DELETABLE:
        expected.add("delete_selected")
    listing = client.get(f"/admin/{app}/{name}/")
    if listing.status_code == 403:
        assert not expected
        offered = set()
    else:
        form = listing.context["action_form"]  # None when the user may run no action at all
        offered = {choice for choice, _ in form.fields["action"].choices if choice} if form else set()
    assert offered == expected
    pks = [str(pk) for pk in model._base_manager.values_list("pk", flat=True)]
    for _, action, _ in model_admin._get_base_actions():
        if action in expected:
            continue
        before = _snapshot()
        client.post(f"/admin/{app}/{name}/", {"action": action, "_selected_action": pks, "post": "yes"})
        assert _snapshot() == before, f"{role} ran {action} on {label} though it is not offered"


def test_nobody_reverts_from_the_history_page_not_even_finance_or_a_superuser(client, ledger):
    """The hole: the version page saved a POST after checking only the view permission."""
    donor = Donor.objects.order_by("pk").first()
    version = donor.history.order_by("history_id").first()
    url = f"/admin/donors/donor/{donor.pk}/history/{version.history_id}/"
    client.force_login(ledger)
    data = _browser_post_data(client, url) | {"name": "Renamed from the history page"}
    for user in (role_user(A), role_user(L), role_user(F), ledger):
        client.force_login(user)
        assert client.post(url, data).status_code == 403
        assert client.get(url).status_code == 200  # the past version is still shown
    donor.refresh_from_db()
    assert donor.name != "Renamed from the history page"
    assert donor.history.count() == 1


def test_a_role_without_the_post_action_cannot_post_by_forging_the_request(client, ledger):
    client.force_login(role_user(roles.AUDITOR))
    draft = Donation.objects.get(reference="DRAFT-1")
    client.post("/admin/donors/donation/", {"action": "post_selected", "_selected_action": [draft.pk]})
    draft.refresh_from_db()
    assert draft.status == "draft"


def test_superuser_may_delete_a_draft_but_not_a_posted_donation(client, ledger):
    client.force_login(get_user_model().objects.get(username="owner"))
    draft = Donation.objects.get(reference="DRAFT-1")
    posted = Donation.objects.filter(status="posted").first()
    assert client.get(f"/admin/donors/donation/{draft.pk}/delete/").status_code == 200
    assert client.get(f"/admin/donors/donation/{posted.pk}/delete/").status_code == 403


def test_groups_hold_exactly_the_role_permissions(db):
    from django.contrib.auth.models import Group

    for role, wanted in roles.ROLE_PERMISSIONS.items():
        held = {f"{p.content_type.app_label}.{p.codename}" for p in Group.objects.get(name=role).permissions.all()}
        assert held == wanted
        # Nothing is deleted but a contact and a soft credit (an attribution, not money: a wrong one is
        # removed, its history kept; donors.services.soft_credit_remove).
        deletable = {"contact", "softcredit"}
        assert not any(p.split(".")[1].startswith("delete_") and p.split("_", 1)[1] not in deletable for p in held)


@pytest.mark.parametrize("page", sorted(REPORT_PAGES))
def test_report_pages_open_to_the_roles_of_the_spec(db, page):
    """Each role's user, through its group's permissions, and the roles a refusal names."""
    module, name = page.rsplit(".", 1)
    access = getattr(importlib.import_module(module), name)
    opened = {role for role in roles.ROLES if access.allows(role_user(role, username=f"page-{role}"))}
    assert opened == set(access.roles()) == REPORT_PAGES[page]
