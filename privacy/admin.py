from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from backoffice.admin_tools import RecordAdmin
from donors.admin import ContactAdmin as ContactReadAdmin
from donors.admin import DonorAdmin as DonorLedgerAdmin
from donors.models import Contact, Donor

from .erasure import REQUEST as ERASURE_REQUEST
from .models import ErasureRequest, SubjectAccessRequest
from .subject_access import subject_access_request

REQUEST = "privacy.add_subjectaccessrequest"


@admin.register(SubjectAccessRequest)
class SubjectAccessRequestAdmin(RecordAdmin):
    list_display = ("pk", "contact", "status", "requested_by", "requested_at", "finished_at", "download")
    list_filter = ("status",)
    list_select_related = ("contact", "requested_by")
    fields = ("contact", "status", "requested_by", "requested_at", "finished_at", "sha256", "error", "download")
    readonly_fields = fields

    @admin.display(description="File")
    def download(self, obj):
        if obj.status != SubjectAccessRequest.Status.DONE:
            return "—"
        return format_html(
            '<a href="{}">Download the ZIP</a>', reverse("privacy:subject_access_download", args=[obj.pk])
        )


@admin.register(ErasureRequest)
class ErasureRequestAdmin(RecordAdmin):
    """The log of erasures: asked for on a person's page, approved or refused on the request's page."""

    list_display = ("pk", "label", "status", "requested_by", "requested_at", "decided_by", "decided_at", "page")
    list_filter = ("status",)
    list_select_related = ("requested_by", "decided_by")
    fields = (
        "label", "status", "reason", "requested_by", "requested_at", "decided_by", "decided_at", "refusal_reason",
        "removed", "page",
    )  # fmt: skip
    readonly_fields = fields

    @admin.display(description="Approve, refuse or read")
    def page(self, obj):
        return format_html('<a href="{}">Open the request</a>', reverse("privacy:erasure", args=[obj.pk]))


class ErasureLinkMixin:
    """The "Erase this person…" link on a person's page, for whoever may ask for an erasure."""

    erasure_url_name = ""

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        obj = self.get_object(request, object_id)
        if obj is not None and request.user.has_perm(ERASURE_REQUEST) and self.erasable(obj):
            extra_context["erasure_url"] = reverse(self.erasure_url_name, args=[obj.pk])
        return super().change_view(request, object_id, form_url, extra_context)

    def erasable(self, obj) -> bool:
        return not obj.erasure_requests.filter(status=ErasureRequest.Status.DONE).exists()


# The contact list and the donor pages are the donors app's; this app adds the subject access action
# and the erasure link to them (a higher layer registers its own work on a lower layer's page, as
# delivery does for report runs).
admin.site.unregister(Contact)
admin.site.unregister(Donor)


@admin.register(Donor)
class DonorAdmin(ErasureLinkMixin, DonorLedgerAdmin):
    change_form_template = "admin/privacy/donor_change_form.html"
    erasure_url_name = "privacy:erasure_ask_donor"

    def erasable(self, obj) -> bool:
        return obj.kind == Donor.Kind.INDIVIDUAL and obj.merged_into_id is None and super().erasable(obj)


@admin.register(Contact)
class ContactAdmin(ErasureLinkMixin, ContactReadAdmin):
    actions = [*ContactReadAdmin.actions, "export_subject_access"]
    change_form_template = "admin/privacy/contact_change_form.html"
    erasure_url_name = "privacy:erasure_ask_contact"

    def has_subject_access_permission(self, request):
        return request.user.has_perm(REQUEST)

    @admin.action(description="Export everything held about them (subject access)", permissions=["subject_access"])
    def export_subject_access(self, request, queryset):
        made = [subject_access_request(contact=contact, by=request.user) for contact in queryset.order_by("pk")]
        link = reverse("admin:privacy_subjectaccessrequest_changelist")
        self.message_user(
            request,
            format_html(
                '{} subject access export{} being made. <a href="{}">Subject access requests</a> lists {} with a '
                "download when ready.",
                len(made),
                " is" if len(made) == 1 else "s are",
                link,
                "it" if len(made) == 1 else "them",
            ),  # fmt: skip
            messages.SUCCESS,
        )
