"""The "send donor summaries" panel on the reports page, with progress for the last period sent."""

from django import template

from .. import services
from ..views import SEND, SummariesForm, period_from_query

register = template.Library()


@register.inclusion_tag("delivery/summaries_panel.html", takes_context=True)
def summaries_panel(context):
    request = context["request"]
    if not request.user.has_perm(SEND):
        return {"allowed": False}
    period = period_from_query(request.GET.get("summaries", ""))
    progress = services.summaries_progress(start=period[0], end=period[1]) if period else None
    initial = {"start": period[0], "end": period[1]} if period else {}
    # Its own ids: the reports page's request form has fields named start and end too.
    form = SummariesForm(initial=initial, auto_id="id_summaries_%s")
    return {"allowed": True, "form": form, "period": period, "progress": progress,
            "csrf_token": context.get("csrf_token")}  # fmt: skip
