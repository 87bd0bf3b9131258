"""The donor admin's duplicate pages: the review list of likely pairs, the merge preview and its
confirmation, the undo of a merge, and the warning when a new donor likely duplicates one.

The pages show what the services say (`donors.duplicates`, `donors.merge`) and call them; a
refusal is shown on the page with its reasons. Merging and undoing need `donors.add_donormerge`
(Finance); the review list is read by whoever may read merges.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from backoffice.admin_tools import RecordAdmin

from .duplicates import DonorFacts, duplicate_dismiss, duplicate_review_page, duplicates_of
from .merge import donor_merge, donor_merge_preview, donor_merge_undo, donor_resolve, undo_refusals
from .models import Donor, DonorMerge

MERGE_PERMISSION = "donors.add_donormerge"
# The duplicate review list shows the pairs of at most this many donors a page (fewer where their names
# are alike by the hundred: donors.duplicates.duplicate_review_page); bench/duplicates.py times it.
DONORS_PER_PAGE = 100


class MergeForm(forms.Form):
    reason = DonorMerge._meta.get_field("reason").formfield(
        required=False,
        label="Why these are one donor",
        help_text="Kept on the merge record, for example “Same foundation, imported twice from the old CRM”.",
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
    )


class SurvivorForm(forms.Form):
    survivor = forms.CharField(
        label="Merge into the donor with reference",
        max_length=20,
        help_text="The donor that survives, for example DON-0001.",
    )

    def clean_survivor(self):
        ref = self.cleaned_data["survivor"].strip()
        donor = Donor.objects.filter(ref__iexact=ref).first()
        if donor is None:
            raise ValidationError(f"There is no donor with reference {ref!r}.")
        return donor


class DonorAddForm(forms.ModelForm):
    """The add form: a new donor that likely duplicates a recorded one is refused until confirmed."""

    confirm_duplicates = forms.BooleanField(
        required=False,
        label="Add it even if it looks like a duplicate",
        help_text="Tick only after reading the likely duplicates listed, if this is a different donor.",
    )

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk or self.errors or cleaned.get("confirm_duplicates"):
            return cleaned
        facts = DonorFacts(
            name=cleaned.get("name", ""),
            country=cleaned.get("country", ""),
            kind=cleaned.get("kind", ""),
            external_ref=cleaned.get("external_ref", ""),
        )
        pairs = duplicates_of(facts)
        if pairs:
            raise ValidationError(
                [f"Likely duplicate of {pair}." for pair in pairs]
                + ["If this is a different donor, tick “Add it even if it looks like a duplicate” and save again."]
            )
        return cleaned


class DonorMergeMixin:
    """For DonorAdmin: the review list, the merge page, the redirect of a merged donor's page."""

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("duplicates/", view(self.duplicates_view), name="donors_donor_duplicates"),
            path("<path:object_id>/merge/", view(self.merge_view), name="donors_donor_merge"),
            *super().get_urls(),
        ]

    def has_merge_permission(self, request) -> bool:
        return request.user.has_perm(MERGE_PERMISSION)

    def _reads_merges(self, request) -> bool:
        return request.user.has_perm("donors.view_donormerge") or self.has_merge_permission(request)

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = DonorAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None:
            fieldsets = (*fieldsets, ("Likely duplicates", {"fields": ("confirm_duplicates",)}))
        return fieldsets

    def change_view(self, request, object_id, form_url="", extra_context=None):
        donor = Donor.objects.filter(pk=unquote(object_id)).select_related("merged_into").first()
        if donor is not None and donor.merged_into_id:
            survivor = donor_resolve(donor)
            self.message_user(request, f"{donor} was merged into {survivor}: this is the donor now.", messages.INFO)
            return HttpResponseRedirect(reverse("admin:donors_donor_change", args=[survivor.pk]))
        extra_context = {**(extra_context or {})}
        if donor is not None and self.has_merge_permission(request):
            extra_context["merge_url"] = reverse("admin:donors_donor_merge", args=[donor.pk])
        return super().change_view(request, object_id, form_url, extra_context)

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {})}
        if self._reads_merges(request):
            extra_context["duplicates_url"] = reverse("admin:donors_donor_duplicates")
        return super().changelist_view(request, extra_context)

    def _page(self, request, template, title, **context):
        return TemplateResponse(
            request,
            template,
            {**self.admin_site.each_context(request), "opts": self.opts, "title": title, **context},
        )

    def duplicates_view(self, request):
        """Likely pairs, highest score first; a pair dismissed as two donors is not listed again."""
        if not self._reads_merges(request):
            raise PermissionDenied
        if request.method == "POST":
            if not self.has_merge_permission(request):
                raise PermissionDenied
            first = Donor.objects.filter(pk=request.POST.get("donor", "")).first()
            other = Donor.objects.filter(pk=request.POST.get("other", "")).first()
            if first is None or other is None or first == other:
                raise Http404("Choose two recorded donors.")
            duplicate_dismiss(donor_a=first, donor_b=other, by=request.user)
            self.message_user(request, f"{first} and {other} are two donors: not listed again.", messages.SUCCESS)
            return HttpResponseRedirect(reverse("admin:donors_donor_duplicates"))
        after = request.GET.get("after", "")
        page = duplicate_review_page(after=int(after) if after.isdigit() else 0, donors=DONORS_PER_PAGE)
        return self._page(
            request,
            "admin/donors/donor/duplicates.html",
            "Likely duplicate donors",
            pairs=page.pairs,
            page=page,
            can_merge=self.has_merge_permission(request),
        )

    def merge_view(self, request, object_id):
        """Merge this donor (the loser) into another: choose the survivor, read the preview, confirm."""
        if not self.has_merge_permission(request):
            raise PermissionDenied
        loser = Donor.objects.filter(pk=unquote(object_id)).first()
        if loser is None:
            raise Http404(f"There is no donor with id {object_id}.")
        chooser = SurvivorForm(request.GET if "survivor" in request.GET else None)
        if not chooser.is_bound or not chooser.is_valid():
            return self._page(
                request, "admin/donors/donor/merge.html", f"Merge {loser.ref} into another donor", loser=loser,
                chooser=chooser,
            )  # fmt: skip
        survivor = chooser.cleaned_data["survivor"]
        form = MergeForm(request.POST if request.method == "POST" else None)
        refused = []
        if form.is_bound and form.is_valid():
            try:
                merge = donor_merge(survivor=survivor, loser=loser, by=request.user, reason=form.cleaned_data["reason"])
            except ValidationError as error:
                refused = error.messages
            else:
                self.message_user(
                    request,
                    f"{loser} was merged into {survivor}. To undo it, open merge {merge.pk} under Donor merges.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:donors_donor_change", args=[survivor.pk]))
        preview = donor_merge_preview(survivor=survivor, loser=loser)
        return self._page(
            request,
            "admin/donors/donor/merge.html",
            f"Merge {loser.ref} into {survivor.ref}",
            loser=loser,
            survivor=survivor,
            preview=preview,
            form=form,
            refused=refused or preview.refusals,
        )


@admin.register(DonorMerge)
class DonorMergeAdmin(RecordAdmin):
    """The merge events: read by everyone who reads the ledger; Finance undoes one from its page."""

    list_display = ("merged_at", "loser", "survivor", "merged_by", "undone_at")
    list_select_related = ("loser", "survivor", "merged_by")
    search_fields = ("loser__ref", "loser__name", "survivor__ref", "survivor__name")
    fields = ("loser", "survivor", "reason", "merged_at", "merged_by", "moved_rows", "kept", "undone_at", "undone_by")
    readonly_fields = fields

    @admin.display(description="Rows moved")
    def moved_rows(self, obj):
        return "; ".join(f"{label}: {len(ids)}" for label, ids in obj.moved.items()) or "—"

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<path:object_id>/undo/", view(self.undo_view), name="donors_donormerge_undo"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        merge = DonorMerge.objects.filter(pk=unquote(object_id)).first()
        extra_context = {**(extra_context or {})}
        if merge and not merge.undone_at and request.user.has_perm(MERGE_PERMISSION):
            extra_context["undo_url"] = reverse("admin:donors_donormerge_undo", args=[merge.pk])
        return super().change_view(request, object_id, form_url, extra_context)

    def undo_view(self, request, object_id):
        if not request.user.has_perm(MERGE_PERMISSION):
            raise PermissionDenied
        merge = DonorMerge.objects.select_related("loser", "survivor").filter(pk=unquote(object_id)).first()
        if merge is None:
            raise Http404(f"There is no merge with id {object_id}.")
        refused = undo_refusals(merge)
        if request.method == "POST" and not refused:
            try:
                donor_merge_undo(merge=merge, by=request.user)
            except ValidationError as error:
                refused = error.messages
            else:
                self.message_user(request, f"Merge undone: {merge.loser} is a donor again.", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:donors_donor_change", args=[merge.loser_id]))
        return TemplateResponse(
            request,
            "admin/donors/donormerge/undo.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": f"Undo the merge of {merge.loser.ref} into {merge.survivor.ref}",
                "merge": merge,
                "moved": [(label, len(ids)) for label, ids in merge.moved.items()],
                "refused": refused,
            },
        )
