"""The reports page's "send donor summaries" form: a period, and every donor or a list of them."""

from django import forms

from .mailing import refs_parse
from .services import DeliveryError, donors_by_refs

EVERYONE, LISTED = "all", "listed"


class SummariesForm(forms.Form):
    """Blank never means every donor: that is a choice of its own, and either way a preview comes first."""

    start = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To", widget=forms.DateInput(attrs={"type": "date"}))
    audience = forms.ChoiceField(
        label="Send to",
        choices=[(LISTED, "The donors listed below"), (EVERYONE, "Every donor with posted donations in the period")],
        initial=LISTED,
        widget=forms.RadioSelect,
    )
    donors = forms.CharField(
        label="Donor references",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 40}),
        help_text="Separated by commas, spaces or new lines; capitals or not, for example DON-0001, don-0002.",
    )

    def __init__(self, *args, **kwargs):
        # The reports page holds another form with a period: ids of their own keep each label to its field.
        kwargs.setdefault("auto_id", "id_summaries_%s")
        super().__init__(*args, **kwargs)

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end and end < start:
            self.add_error("end", f"The period ends ({end}) before it starts ({start}).")
        refs = refs_parse(data.get("donors", ""))
        if data.get("audience") == EVERYONE:
            if refs:
                self.add_error("donors", "Choose either every donor or the donors listed, not both: clear the list.")
            data["refs"] = None
        elif data.get("audience") == LISTED:
            if not refs:
                self.add_error("donors", "List at least one donor reference, or choose every donor.")
            else:
                try:
                    donors_by_refs(refs)
                except DeliveryError as error:
                    self.add_error("donors", error)
            data["refs"] = refs
        return data
