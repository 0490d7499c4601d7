"""Browser tests: Debian's Chromium, driven by Playwright, against a live server on the test
database. The demo and the demo accounts are committed once for the session, and each test
only reads, so nothing is flushed between tests."""

import io
import os
import threading
import time

import pytest
from django.core.management import call_command
from django.db import connections

from tests.reliability.cluster import APP_ROLE

# Playwright's sync API runs an event loop in the test thread; the test's own database calls
# are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class RequestsInFlight:
    """How many requests the live server is answering. A test ends only once it has
    answered the browser's last one: a request still running after the test would meet the
    test database closed to it."""

    QUIET_S = 0.2  # no request for this long: none accepted but not yet begun either

    def __init__(self):
        self.count = 0
        self.last_change = time.monotonic()
        self.changed = threading.Condition()

    def add(self, step: int) -> None:
        with self.changed:
            self.count += step
            self.last_change = time.monotonic()
            self.changed.notify_all()

    def wait_until_quiet(self, timeout_s: float = 10) -> None:
        deadline = time.monotonic() + timeout_s
        with self.changed:
            while time.monotonic() < deadline:
                quiet_since = time.monotonic() - self.last_change
                if self.count == 0 and quiet_since >= self.QUIET_S:
                    return
                self.changed.wait(timeout=max(self.QUIET_S - quiet_since, 0.05))


IN_FLIGHT = RequestsInFlight()


def as_the_app_role() -> None:
    """This thread's database connection logs in as the application's role, which owns
    nothing, as ``make run`` and ``make serve`` do: the pages are tested with its grants, not
    with the owner's. The live server answers each request in a thread of its own."""
    connection = connections["default"]
    if connection.settings_dict["USER"] != APP_ROLE:
        connection.close()
        # A dict of its own: the settings' dict is shared by every thread's connection.
        connection.settings_dict = {
            **connection.settings_dict,
            "USER": APP_ROLE,
            "PASSWORD": APP_ROLE,
        }


@pytest.fixture(scope="session")
def app_server(django_db_setup, django_db_blocker):
    """A live server on the test database, holding the demo and one account per role,
    serving as the application's role."""
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.test.testcases import LiveServerThread

    class CountedHandler(StaticFilesHandler):
        def __call__(self, environ, start_response):
            IN_FLIGHT.add(1)
            try:
                as_the_app_role()
                response = super().__call__(environ, start_response)
            except BaseException:
                IN_FLIGHT.add(-1)
                raise
            # Answered only once the server has sent it and closed it: a response may still
            # write then (a tile just rendered goes to the cache in its close()).
            close = response.close

            def close_then_count():
                try:
                    close()
                finally:
                    IN_FLIGHT.add(-1)

            response.close = close_then_count
            return response

    with django_db_blocker.unblock():
        call_command("create_demo_users", stdout=io.StringIO())
    thread = LiveServerThread("127.0.0.1", CountedHandler)
    thread.daemon = True
    thread.start()
    thread.is_ready.wait()
    if thread.error:
        raise thread.error
    yield f"http://127.0.0.1:{thread.port}"
    thread.terminate()


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, app_server, db):
    """A fresh browser context; requests that would leave the machine are refused and kept
    in ``page.external_requests``, uncaught script errors in ``page.console_errors``."""
    context = browser.new_context(base_url=app_server, locale="en-GB")
    external = []

    def keep_local(route):
        if route.request.url.startswith(app_server):
            route.continue_()
        else:
            external.append(route.request.url)
            route.abort()

    context.route("**/*", keep_local)
    page = context.new_page()
    page.external_requests = external
    page.console_errors = []
    page.on("pageerror", lambda error: page.console_errors.append(str(error)))
    yield page
    context.close()
    IN_FLIGHT.wait_until_quiet()
    # The test's own queries ran on a connection of Playwright's context; close it so that
    # the test database can be dropped at the end.
    connections.close_all()


def log_in(page, username: str, password: str = "demo") -> None:
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
