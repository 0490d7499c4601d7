"""Clear, retryable answers when the database or the disk fails under a request.

A request that meets a database that is restarting, refusing connections or out of space is
not the client's fault and will likely succeed later: it gets 503 with ``Retry-After`` and a
message saying which of these it was, as JSON for the machine interfaces (``/api/``,
``/ogc/``, ``/tiles/``, ``/healthz``) and as a small page for people; never a 500 page. The
transaction the request was in is rolled back by PostgreSQL (a lost connection commits
nothing), so a registration is either whole or absent, and retrying it is safe.

Exceptions raised by a view reach :class:`DatabaseUnavailableMiddleware`; those raised in
other middleware (the session being saved after the database went away) reach
:func:`server_error`, the project's ``handler500``.
"""

import errno
import logging
import sys
from dataclasses import dataclass

from django.contrib.sessions.exceptions import SessionInterrupted
from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.views.defaults import server_error as django_server_error

logger = logging.getLogger(__name__)

# Seconds a client should wait before retrying: about how long a PostgreSQL restart takes.
RETRY_AFTER_S = 5
MACHINE_PREFIXES = ("/api/", "/ogc/", "/tiles/", "/healthz")
# SQLSTATEs (PostgreSQL appendix A) that say the server, not the request, is short of
# something; psycopg gives no SQLSTATE when the connection itself fails, hence the texts.
DISK_FULL_STATES = {"53100", "53400"}  # disk_full, configuration_limit_exceeded (temp files)
BUSY_STATES = {"53300"}  # too_many_connections
BUSY_TEXTS = ("too many clients", "too many connections", "remaining connection slots")


@dataclass(frozen=True)
class Unavailable:
    """Why a request could not be served, in the register's error shape."""

    rule: str
    message: str

    def as_dict(self) -> dict:
        return {"rule": self.rule, "title": "", "message": self.message}


def unavailability(exc: BaseException) -> Unavailable | None:
    """What ``exc`` says about the server's state, or ``None`` when it is not a failure of
    the database or the disk (and so a bug, a genuine 500)."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return Unavailable("disk_full", "the server has run out of disk space; nothing was kept")
    if not isinstance(exc, OperationalError | InterfaceError):
        return None
    cause = exc.__cause__ or exc
    sqlstate = getattr(cause, "sqlstate", None)
    text = str(exc).lower()
    if sqlstate in DISK_FULL_STATES or "no space left on device" in text:
        return Unavailable(
            "disk_full", "the database has run out of disk space; nothing was written"
        )
    if sqlstate in BUSY_STATES or any(marker in text for marker in BUSY_TEXTS):
        return Unavailable("database_busy", "the database has no free connections")
    return Unavailable("database_unavailable", "the database is not answering")


def unavailable_response(request: HttpRequest, reason: Unavailable) -> HttpResponse:
    """503 with ``Retry-After``: JSON for machine interfaces, a page for people. The page
    is rendered without the database (no session, no user)."""
    text = f"{reason.message}; try again in a few seconds"
    if request.path.startswith(MACHINE_PREFIXES) or "json" in request.headers.get("Accept", ""):
        response: HttpResponse = JsonResponse({**reason.as_dict(), "message": text}, status=503)
    else:
        body = render_to_string("503.html", {"message": text, "rule": reason.rule})
        response = HttpResponse(body, status=503)
    response["Retry-After"] = str(RETRY_AFTER_S)
    return response


class DatabaseUnavailableMiddleware:
    """Turns a view's database or disk failure into 503 + ``Retry-After``, and gives every
    other 503 (``/healthz``, the OGC API) the same header."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code == 503 and not response.has_header("Retry-After"):
            response["Retry-After"] = str(RETRY_AFTER_S)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        reason = unavailability(exception)
        if reason is None:
            return None
        logger.warning("%s on %s %s: %s", reason.rule, request.method, request.path, exception)
        return unavailable_response(request, reason)


class SessionMiddleware(DjangoSessionMiddleware):
    """Django's, but a changed session that cannot be saved because the database went away
    is that failure (503 with ``Retry-After``, from :func:`server_error`), not a 400 saying
    the session was deleted meanwhile: Django reads every failed update of a session row as
    its deletion (``SessionInterrupted``), whatever the database said."""

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        try:
            return super().process_response(request, response)
        except SessionInterrupted as interrupted:
            # SessionInterrupted is raised while handling UpdateError, itself raised while
            # handling the database's error.
            update_error = interrupted.__context__
            database_error = update_error.__context__ if update_error is not None else None
            if database_error is not None and unavailability(database_error) is not None:
                raise database_error from interrupted
            raise


def server_error(request: HttpRequest, template_name: str = "500.html") -> HttpResponse:
    """``handler500``: a failure of the database or the disk outside any view is still a
    503; anything else is Django's plain 500 page."""
    exc = sys.exc_info()[1]
    reason = unavailability(exc) if exc is not None else None
    if reason is not None:
        return unavailable_response(request, reason)
    return django_server_error(request, template_name=template_name)
