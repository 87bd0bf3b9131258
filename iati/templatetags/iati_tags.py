from django import template

from ..models import IatiExport
from ..views import IATI_DOWNLOAD, IATI_EXPORT

register = template.Library()


@register.inclusion_tag("iati/iati_panel.html", takes_context=True)
def iati_panel(context):
    """The reports page's IATI section: the button for Leadership, the recent exports for who may download."""
    user = context["request"].user
    can_export, can_download = IATI_EXPORT.allows(user), IATI_DOWNLOAD.allows(user)
    if not (can_export or can_download):
        return {"allowed": False}
    exports = IatiExport.objects.select_related("requested_by")[:10]
    return {
        "allowed": True,
        "can_export": can_export,
        "can_download": can_download,
        "exports": exports,
        "csrf_token": context.get("csrf_token"),
    }
