"""Who may use the OGC API: a logged-in user, by session (browsers) or HTTP Basic (GIS
clients such as GDAL, QGIS and OWSLib, which log in that way).

HTTP Basic sends the password with every request, readable by anyone on the way unless the
connection is TLS. It is accepted only over HTTPS or from this machine (loopback: local use and
tests); anything else is refused with a message saying so. The credentials are checked with
Django's ``authenticate`` (so inactive users are refused) on every request, and no session is
opened. This applies to the OGC views only.
"""

import base64
import binascii
import ipaddress
from collections.abc import Callable
from functools import wraps

from django.contrib.auth import authenticate
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse

from gis_layers.ogc.params import OgcError
from gis_layers.ogc.render import error_response, wants_html


def _from_loopback(request: HttpRequest) -> bool:
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False


def _basic_user(request: HttpRequest, encoded: str):
    """The active user the Basic credentials name, or :class:`OgcError` 401 saying why not."""
    if not (request.is_secure() or _from_loopback(request)):
        raise OgcError(
            401,
            "AuthenticationFailed",
            "HTTP Basic credentials are accepted only over HTTPS; log in with a session, "
            "or connect by https",
        )
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        decoded = ""
    username, separator, password = decoded.partition(":")
    if not separator or not username:
        raise OgcError(
            401, "AuthenticationFailed", "the Authorization header is not Basic user:password"
        )
    user = authenticate(request, username=username, password=password)
    if user is None:
        raise OgcError(401, "AuthenticationFailed", "the user name or password is wrong")
    return user


def login_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Runs the view for a logged-in user: the one an ``Authorization: Basic`` header names
    (which then takes precedence over any session), else the session's. Anonymous requests are
    redirected to the login page when they want HTML, and answered 401 with a Basic challenge
    when they want JSON."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "basic":
            try:
                request.user = _basic_user(request, credentials)
            except OgcError as error:
                return error_response(request, error)
        elif not request.user.is_authenticated:
            if wants_html(request):
                return redirect_to_login(request.get_full_path())
            return error_response(
                request,
                OgcError(
                    401,
                    "AuthenticationRequired",
                    "log in first: a session, or HTTP Basic credentials of your account",
                ),
            )
        return view(request, *args, **kwargs)

    return wrapper
