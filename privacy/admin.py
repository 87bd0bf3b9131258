from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from backoffice.admin_tools import RecordAdmin
from donors.admin import ContactAdmin as ContactReadAdmin
from donors.models import Contact

from .models import SubjectAccessRequest
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


# The contact list is the donors app's; this app adds the subject access action to it (a higher
# layer registers its own work on a lower layer's page, as delivery does for report runs).
admin.site.unregister(Contact)


@admin.register(Contact)
class ContactAdmin(ContactReadAdmin):
    actions = [*ContactReadAdmin.actions, "export_subject_access"]

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
