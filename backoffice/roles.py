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
    "donorrelationship", "activity",
)  # fmt: skip
_DONOR_RECORDS = ("donormerge",)  # written by services only: read here, never edited
_GRANT_MODELS = ("programme", "output", "indicator", "allocation", "reportingobligation")
_SPENDING_MODELS = ("agreement", "budgetversion", "budgetline", "expense", "expensecharge", "varianceexplanation")
_DELIVERY_MODELS = ("delivery", "deliveryattempt", "downloadlog", "remindersent", "mailing")
# The organisation profile: every role reads what the reports print; only a superuser changes it.
_PROFILE = {"backoffice.view_organisation"}


_TRANSFER_LEDGER = ("donor", "contact", "pledge", "instalment", "donation", "exchangerate")
_TRANSFER_GRANTS = ("output", "indicator", "allocation")


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
        | {"reports.view_reportrun", "reports.generate_report", "reports.download_report"}
        | _view("delivery", _DELIVERY_MODELS)
        | {"delivery.send_donor_summaries", "delivery.revoke_delivery"}
        | {"privacy.add_subjectaccessrequest", "privacy.view_subjectaccessrequest"}  # subject access: finance alone
        | {"transfers.view_importjob"}
        | {"reports.view_dashboard"}
        | _transfer("import", (*_TRANSFER_LEDGER, "allocation"))
        | _transfer("export", (*_TRANSFER_LEDGER, *_TRANSFER_GRANTS))
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
        | _view("grants", _GRANT_MODELS)
        | _view("spending", _SPENDING_MODELS)
        | {"reports.view_reportrun", "reports.generate_report", "reports.download_report"}
        | _view("delivery", _DELIVERY_MODELS)
        | {"transfers.view_importjob"}
        | {"reports.view_dashboard"}
        | _transfer("export", (*_TRANSFER_LEDGER, *_TRANSFER_GRANTS))
        | _PROFILE
    ),
    AUDITOR: (
        _view("donors", (*_DONOR_MODELS, *_DONOR_RECORDS))
        | _view("grants", _GRANT_MODELS)
        | _view("spending", _SPENDING_MODELS)
        | {"reports.view_reportrun"}
        | _view("delivery", _DELIVERY_MODELS)
        | {"transfers.view_importjob"}
        | {"reports.view_dashboard"}
        | _transfer("export", (*_TRANSFER_LEDGER, *_TRANSFER_GRANTS))
        | _PROFILE
    ),
}


def groups_sync(Group, Permission) -> None:
    """Make each role's group hold exactly its permissions (those that exist yet)."""
    for role, codenames in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        wanted = []
        for full in sorted(codenames):
            app_label, codename = full.split(".")
            perm = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
            if perm is not None:
                wanted.append(perm)
        group.permissions.set(wanted)


def groups_sync_on_migrate(sender, apps=None, **kwargs):
    from django.contrib.auth.models import Group, Permission

    groups_sync(Group, Permission)
