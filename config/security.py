"""Content-Security-Policy with the inline scripts of map pages allowed by their hashes.

The policy (``CONTENT_SECURITY_POLICY`` in settings, served by django-csp) allows scripts
from this server only. A map page is built by folium, which writes the map's set-up as
inline scripts; :func:`allow_inline_script` records the exact text of each such script while
the page is built, and the middleware adds its SHA-256 to ``script-src`` of that response
alone. A script injected into a page (a name or address carrying ``<script>``) has no
recorded hash and does not run. Map pages also get ``'unsafe-eval'``: leaflet-measure
compiles its templates with ``Function``.
"""

import base64
import hashlib
from contextvars import ContextVar

from csp.middleware import CSPMiddleware, PolicyParts
from django.http import HttpRequest, HttpResponseBadRequest, HttpResponseBase, JsonResponse

# The inline scripts the page being built may run; None outside a request.
_inline_scripts: ContextVar[list[str] | None] = ContextVar("inline_scripts", default=None)


def allow_inline_script(text: str) -> None:
    """Let the response being built run an inline ``<script>`` whose content is ``text``,
    exactly (whitespace included)."""
    allowed = _inline_scripts.get()
    if allowed is not None:
        allowed.append(text)


def script_hash(text: str) -> str:
    """The CSP source expression that allows an inline script with content ``text``."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware, plus the hashes of the inline scripts this response's
    page recorded with :func:`allow_inline_script`."""

    def process_request(self, request: HttpRequest) -> None:
        super().process_request(request)
        _inline_scripts.set([])

    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        scripts = _inline_scripts.get() or []
        if scripts and not report_only:
            update = dict(parts.update or {})
            hashes = sorted({script_hash(text) for text in scripts})
            update["script-src"] = [*update.get("script-src", []), *hashes, "'unsafe-eval'"]
            parts.update = update
        return parts

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        response = super().process_response(request, response)
        # The thread serves other requests next: what this page allowed ends with it.
        _inline_scripts.set(None)
        return response


class RefuseNulCharactersMiddleware:
    """Answers 400 to a query string carrying U+0000, naming the parameter.

    PostgreSQL cannot store or compare text holding NUL, so such a value would otherwise
    fail deep inside a search as a database error. Form fields refuse it already (Django's
    ``ProhibitNullCharactersValidator``); query parameters reach selectors directly.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        for name, values in request.GET.lists():
            if "\x00" in name or any("\x00" in value for value in values):
                message = f"query parameter {name!r}: the character U+0000 is refused"
                if request.path.startswith(("/api/", "/ogc/", "/tiles/")):
                    body = {"rule": "invalid_input", "title": "", "message": message}
                    return JsonResponse(body, status=400)
                return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")
        return self.get_response(request)
