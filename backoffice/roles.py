"""The four roles and their exact permissions.

This is the single source of the permission matrix: the `0001_roles` migration and every
later `migrate` (post_migrate) make the groups match it exactly, adding and removing
permissions. Nobody but a superuser deletes a money record, so no role holds a delete
permission on one.
"""

FINANCE = "Finance"
PROGRAMME = "Programme"
LEADERSHIP = "Leadership"
AUDITOR = "Auditor"
ROLES = (FINANCE, PROGRAMME, LEADERSHIP, AUDITOR)

_DONOR_MODELS = (
    "donor", "contact", "pledge", "instalment", "donation", "donationbatch", "exchangerate", "writeoff",
    "donorrelationship", "activity", "softcredit",
)  # fmt: skip
_DONOR_RECORDS = ("donormerge",)  # written by services only: read here, never edited
_GRANT_MODELS = ("programme", "output", "indicator", "allocation", "reportingobligation")
_SPENDING_MODELS = ("agreement", "budgetversion", "budgetline", "expense", "expensecharge", "varianceexplanation")
# An agreement's audit pack (spending/audit_pack.py): made and downloaded by the roles that export.
_AUDIT_PACK = {"spending.view_auditpack"}
_DELIVERY_MODELS = ("delivery", "deliveryattempt", "downloadlog", "remindersent", "mailing")
# Journals for the general ledger: Finance keeps the account map and exports; the log is read-only.
_JOURNAL_LOG = ("journalexport", "journalentry")
_JOURNAL_READ = {"journals.view_accountmap", "journals.download_journal"} | {f"journals.view_{m}" for m in _JOURNAL_LOG}
# The organisation profile: every role reads what the reports print; only a superuser changes it.
_PROFILE = {"backoffice.view_organisation"}


_TRANSFER_LEDGER = ("donor", "contact", "pledge", "instalment", "donation", "exchangerate")
_TRANSFER_GRANTS = ("output", "indicator", "allocation")
_TRANSFER_SPENDING = ("expense",)


def _transfer(action, kinds):
    """Import/export file permissions (transfers.Transfer)."""
    return {f"transfers.{action}_{kind}" for kind in kinds}


def _view(app, models):
    return {f"{app}.view_{m}" for m in models}


def _edit(app, models):
    return {f"{app}.{action}_{m}" for m in models for action in ("add", "change", "view")}


ROLE_PERMISSIONS: dict[str, set[str]] = {
    FINANCE: (
        _edit("donors", _DONOR_MODELS)
        | {
            "donors.delete_contact",
            "donors.delete_softcredit",  # a soft credit recorded in error is taken back; its history stays
            "donors.post_donation",
            "donors.reverse_donation",
            "donors.reverse_writeoff",
        }
        # Merging donors, undoing a merge, dismissing a likely pair: adding a merge record.
        | {"donors.add_donormerge", "donors.view_donormerge"}
        | _view("grants", _GRANT_MODELS)
        | _edit("grants", ("allocation", "reportingobligation"))
        | {"grants.reverse_allocation"}
        | _edit("spending", _SPENDING_MODELS)
        | {"spending.post_expense", "spending.reverse_expense", "spending.approve_budgetversion"}
        | _AUDIT_PACK
        | {"reports.view_reportrun", "reports.generate_report", "reports.download_report"}
        | _view("delivery", _DELIVERY_MODELS)
        | {"delivery.send_donor_summaries", "delivery.revoke_delivery"}
        | {"privacy.add_subjectaccessrequest", "privacy.view_subjectaccessrequest"}  # subject access: finance alone
        # Erasure: Finance asks; another Finance user, or Leadership, approves (privacy/erasure.py).
        | {"privacy.add_erasurerequest", "privacy.view_erasurerequest", "privacy.approve_erasurerequest"}
        | {"transfers.view_importjob"}
        | {"reports.view_dashboard"}
        | _JOURNAL_READ
        | {"journals.add_accountmap", "journals.change_accountmap"}
        | {"journals.export_journal"}
        | _transfer("import", (*_TRANSFER_LEDGER, "allocation", *_TRANSFER_SPENDING))
        | _transfer("export", (*_TRANSFER_LEDGER, *_TRANSFER_GRANTS, *_TRANSFER_SPENDING))
        | _PROFILE
    ),
    PROGRAMME: (
        _view("donors", ("donor", "pledge"))
        | _edit("grants", ("programme", "output", "indicator", "reportingobligation"))
        | _view("grants", ("allocation",))
        | _view("spending", _SPENDING_MODELS)
        | _transfer("import", ("output", "indicator"))
        | _transfer("export", ("output", "indicator"))
        | _PROFILE
    ),
    LEADERSHIP: (
        _view("donors", (*_DONOR_MODELS, *_DONOR_RECORDS))
        | _edit("donors", ("activity",))  # leadership meets donors: it records the meetings and their next steps
        | {"privacy.view_erasurerequest", "privacy.approve_erasurerequest"}  # the second person of an erasure
        | _view("grants", _GRANT_MODELS)
        | _view("spending", _SPENDING_MODELS)
        | _AUDIT_PACK
        | {"reports.view_reportrun", "reports.generate_report", "reports.download_report"}
        | _view("delivery", _DELIVERY_MODELS)
        | {"transfers.view_importjob"}
        | {"reports.view_dashboard"}
        | _JOURNAL_READ
        | _transfer("export", (*_TRANSFER_LEDGER, *_TRANSFER_GRANTS, *_TRANSFER_SPENDING))
        | {"iati.export_iati", "iati.download_iati"}  # publishing to IATI
        | _PROFILE
    ),
    AUDITOR: (
        _view("donors", (*_DONOR_MODELS, *_DONOR_RECORDS))
        | _view("grants", _GRANT_MODELS)
        | _view("spending", _SPENDING_MODELS)
        | _AUDIT_PACK
        # Reads and downloads every report (PDF, workbook, HTML version); never generates or submits one.
        | {"reports.view_reportrun", "reports.download_report"}
        | _view("delivery", _DELIVERY_MODELS)
        | {"iati.download_iati"}
        | {"transfers.view_importjob"}
        | {"reports.view_dashboard"}
        | _JOURNAL_READ
        | _transfer("export", (*_TRANSFER_LEDGER, *_TRANSFER_GRANTS, *_TRANSFER_SPENDING))
        | _PROFILE
    ),
}


def groups_sync(Group, Permission) -> None:
    """Make each role's group hold exactly its permissions (those that exist yet). The permissions
    are read in one query: this runs after every app's migrations, and after each flush of a test
    that commits."""
    existing = {
        f"{app_label}.{codename}": pk  # where two models of an app share a codename, the first made
        for pk, app_label, codename in Permission.objects.order_by("-pk").values_list(
            "pk", "content_type__app_label", "codename"
        )
    }
    for role, codenames in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.set([existing[full] for full in sorted(codenames) if full in existing])


def groups_sync_on_migrate(sender, apps=None, **kwargs):
    from django.contrib.auth.models import Group, Permission

    groups_sync(Group, Permission)
