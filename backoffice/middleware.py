"""Request guards that belong at the edge, before any view or query sees the request."""

from django.http import HttpResponseBadRequest

NUL = "\x00"


def _has_nul(query_dict) -> bool:
    return any(NUL in key or any(NUL in value for value in values) for key, values in query_dict.lists())


class RefuseNulMiddleware:
    """Answer 400 to a request with a NUL character in its path, query string or form fields.

    No text field or lookup here can hold NUL: PostgreSQL refuses it in any string, so it would
    otherwise reach a query (an admin list filter, a search) and end in a 500. Uploaded files are
    not form fields and may hold any bytes.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if NUL in request.path_info or _has_nul(request.GET) or (request.method == "POST" and _has_nul(request.POST)):
            return HttpResponseBadRequest(
                "Bad request: the address, query string or form fields hold a NUL character (%00), "
                "which no field accepts. Remove it and try again.",
                content_type="text/plain; charset=utf-8",
            )
        return self.get_response(request)
