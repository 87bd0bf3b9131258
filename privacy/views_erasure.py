"""The erasure pages: Finance asks from a contact's or an individual donor's page (a preview of what
goes and what stays, and the reason); a second person approves or refuses on the request's page."""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache

from backoffice.access import PageAccess
from donors.models import Contact, Donor

from .erasure import APPROVE, REQUEST, ErasureError, erasure_approve, erasure_preview, erasure_refuse, erasure_request
from .models import ErasureRequest

ERASURE_ASK = PageAccess(
    name="Erase a person",
    about="This asks for a person's erasure under UK GDPR: their personal data goes, the money stays.",
    rule=lambda has: has(REQUEST),
)
ERASURE = PageAccess(
    name="Erasure request",
    about="This shows a request to erase a person under UK GDPR, for a second person to approve or refuse.",
    rule=lambda has: has("privacy.view_erasurerequest"),
)
ERASURE_DECIDE = PageAccess(
    name="Approve an erasure",
    about="This approves or refuses a request to erase a person under UK GDPR.",
    rule=lambda has: has(APPROVE),
)


class ErasureAskForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="When and how the person asked, or why else they are erased. Their name is removed from it "
        "once they are erased.",
    )


class ErasureRefuseForm(forms.Form):
    refusal_reason = forms.CharField(label="Why it is refused", widget=forms.Textarea(attrs={"rows": 2}))


def _page(request, template, title, **context):
    return render(request, template, {**admin.site.each_context(request), "title": title, **context})


@never_cache
@login_required
def erasure_ask(request, kind: str, pk: int):
    ERASURE_ASK.check(request.user)
    subject = {"contact": get_object_or_404(Contact, pk=pk)} if kind == "contact" else {
        "donor": get_object_or_404(Donor, pk=pk)
    }  # fmt: skip
    form = ErasureAskForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            erasure = erasure_request(by=request.user, reason=form.cleaned_data["reason"], **subject)
        except ErasureError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Erasure request #{erasure.pk} is waiting for a second person's approval.")
            return redirect("privacy:erasure", pk=erasure.pk)
    person = next(iter(subject.values()))
    return _page(
        request,
        "privacy/erasure_ask.html",
        f"Erase {person}",
        form=form,
        preview=erasure_preview(**subject),
    )


@never_cache
@login_required
def erasure_page(request, pk: int):
    ERASURE.check(request.user)
    erasure = get_object_or_404(ErasureRequest.objects.select_related("requested_by", "decided_by"), pk=pk)
    refuse_form = ErasureRefuseForm(request.POST if request.POST.get("decision") == "refuse" else None)
    error = None
    if request.method == "POST":
        ERASURE_DECIDE.check(request.user)
        try:
            if request.POST.get("decision") == "approve":
                erasure = erasure_approve(erasure=erasure, by=request.user)
                messages.success(request, f"Erased: the person is now “{erasure.label}”.")
                return redirect("privacy:erasure", pk=erasure.pk)
            if refuse_form.is_valid():
                erasure_refuse(erasure=erasure, by=request.user, reason=refuse_form.cleaned_data["refusal_reason"])
                messages.success(request, "The erasure was refused; nothing was erased.")
                return redirect("privacy:erasure", pk=erasure.pk)
        except ErasureError as problem:
            error = " ".join(problem.messages)
    waiting = erasure.status == ErasureRequest.Status.REQUESTED
    return _page(
        request,
        "privacy/erasure.html",
        str(erasure) if not waiting else f"Erasure request #{erasure.pk}",
        erasure=erasure,
        preview=erasure_preview(contact=erasure.contact, donor=erasure.donor) if waiting else None,
        may_decide=waiting and ERASURE_DECIDE.allows(request.user) and request.user.pk != erasure.requested_by_id,
        own_request=request.user.pk == erasure.requested_by_id,
        refuse_form=refuse_form,
        error=error,
    )
