"""schemathesis against the API's own OpenAPI schema: every operation, as every role and as
an anonymous client, with generated (and deliberately malformed) paths, queries and bodies.
No answer may be a server error. ``RELIABILITY_LONG=1`` generates many more cases.

The requests go through the WSGI application in this process, inside the test's
transaction, so nothing they write outlives the test. Sessions and a CSRF token are set as a
browser would hold them, so that writes reach the views rather than stopping at the CSRF
check.
"""

import json
import os

import pytest
import schemathesis
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from django.test import Client
from django.utils.crypto import get_random_string
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from registry.roles import Role
from tests.registry.register import user

pytestmark = [
    pytest.mark.hostile,
    # schemathesis gives every operation the same test id, and pytest-xdist runs one test per
    # id: in a worker only one operation would be fuzzed, so the module runs in one process.
    pytest.mark.skipif(
        "PYTEST_XDIST_WORKER" in os.environ,
        reason="run in one process: `pytest tests/reliability/test_api_fuzz.py`",
    ),
]
LONG = os.environ.get("RELIABILITY_LONG") == "1"
# Everything the API serves must be answered for these, whatever comes in.
ROLES = [None, *Role]


def api_schema():
    """The schema ``/api/schema/`` serves, generated in this process (it needs no database)."""
    document = SchemaGenerator().get_schema(request=None, public=True)
    loaded = schemathesis.openapi.from_dict(json.loads(OpenApiJsonRenderer().render(document)))
    loaded.app = WSGIHandler()
    return loaded


schema = api_schema()


@pytest.fixture
def in_test_transaction(db):
    """As Django's test client does: the start and end of a request must not close the
    connection that holds the test's transaction."""
    for signal in (signals.request_started, signals.request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (signals.request_started, signals.request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def headers_of_roles(in_test_transaction) -> dict[Role | None, dict[str, str]]:
    """One session per role for all the examples of one operation."""
    return {role: browser_headers(role) for role in ROLES}


def browser_headers(role: Role | None) -> dict[str, str]:
    """Cookie and CSRF headers of a logged-in user of ``role`` (none for anonymous)."""
    token = get_random_string(32)
    cookies = [f"csrftoken={token}"]
    if role is not None:
        client = Client()
        client.force_login(user(role, f"fuzz-{role.value}"))
        cookies.append(f"sessionid={client.cookies['sessionid'].value}")
    return {"Cookie": "; ".join(cookies), "X-CSRFToken": token}


@schema.parametrize()
@settings(
    max_examples=100 if LONG else 6,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=not LONG,
)
def test_no_operation_answers_a_server_error(headers_of_roles, case):
    # Each generated request is sent as each role in turn: every operation, every role.
    for role in ROLES:
        response = case.call(headers=headers_of_roles[role])
        case.validate_response(response, checks=[not_a_server_error])


def test_the_fuzzed_schema_is_the_one_the_api_serves(db, client):
    client.force_login(user(Role.PLANNER, "fuzz-planner"))
    served = client.get("/api/schema/", {"format": "json"})
    assert served.status_code == 200
    document = json.loads(
        OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True))
    )
    assert json.loads(served.content)["paths"] == document["paths"]
    assert len(document["paths"]) >= 10
