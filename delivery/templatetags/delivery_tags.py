"""The "send donor summaries" panel on the reports page, with progress for the last period sent."""

from django import template

from .. import services
from ..forms import SummariesForm
from ..views import SEND, period_from_query

register = template.Library()


@register.inclusion_tag("delivery/summaries_panel.html", takes_context=True)
def summaries_panel(context):
    request = context["request"]
    if not request.user.has_perm(SEND):
        return {"allowed": False}
    period = period_from_query(request.GET.get("summaries", ""))
    progress = services.summaries_progress(start=period[0], end=period[1]) if period else None
    initial = {"start": period[0], "end": period[1]} if period else {}
    return {"allowed": True, "form": SummariesForm(initial=initial), "period": period, "progress": progress}
