"""The organisation profile's admin page: every role reads it, only an administrator changes it."""

from django import forms
from django.contrib import admin
from django.utils.html import format_html

from .models import Organisation


class OrganisationForm(forms.ModelForm):
    logo = forms.FileField(
        required=False,
        widget=forms.FileInput(attrs={"accept": "image/png,image/svg+xml"}),
        help_text=Organisation._meta.get_field("logo").help_text + " Leave empty to keep the current logo.",
    )
    logo_remove = forms.BooleanField(required=False, label="Remove the logo")

    class Meta:
        model = Organisation
        fields = [
            "name", "logo", "address", "email", "website", "registration", "sender_email", "public_url",
            "iati_identifier", "iati_type",
        ]  # fmt: skip

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.initial.pop("logo", None)  # the file input starts empty; the current logo is shown beside it

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("logo_remove") and cleaned.get("logo"):
            self.add_error("logo_remove", "Either upload a new logo or remove it, not both.")
        return cleaned

    def _post_clean(self):
        # The model's clean() reads a new logo's bytes: give it the upload, or no logo, or the current one.
        upload = self.cleaned_data.get("logo")
        if self.cleaned_data.get("logo_remove"):
            self.cleaned_data["logo"] = ""
        elif not upload:
            self.cleaned_data["logo"] = self.instance.logo.name
        super()._post_clean()


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    form = OrganisationForm
    list_display = ["name", "email", "sender_email", "registration"]
    readonly_fields = ["current_logo"]
    fieldsets = [
        (None, {"fields": ["name", "registration", "address", "email", "website"]}),
        ("Logo", {"fields": ["current_logo", "logo", "logo_remove"]}),
        ("Email and public address", {"fields": ["sender_email", "public_url"]}),
        ("IATI publishing", {"fields": ["iati_identifier", "iati_type"]}),
    ]

    def get_fieldsets(self, request, obj=None):
        if self.has_change_permission(request, obj):
            return self.fieldsets
        return [(name, {"fields": [f for f in opts["fields"] if f not in ("logo", "logo_remove")]})
                for name, opts in self.fieldsets]  # fmt: skip

    @admin.display(description="Current logo")
    def current_logo(self, obj):
        if not obj or not obj.logo:
            return "No logo: reports print the name alone."
        return format_html('<img src="{}" alt="The logo of {}" height="64">', obj.logo_data_uri(), obj.name)

    def has_add_permission(self, request):
        return False  # the one row is made by migration 0003

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser
