"""Error answers as pages a person can read, where Django sends none."""

from django.shortcuts import render


class MethodNotAllowedPageMiddleware:
    """Django answers a method a view does not take (``require_POST``: a GET of a button's
    address, say) with an empty 405, which a browser shows as its own error page. This one
    says what happened and leads back; answers that carry their own body (the API's) stay."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code != 405 or response.content:
            return response
        page = render(request, "405.html", {"allowed": response.get("Allow", "")}, status=405)
        page["Allow"] = response.get("Allow", "")
        return page
