"""Access: security headers and the Content-Security-Policy, session cookies, CSRF on every
URL, login lock-out, and the password hasher (docs/reliability.md, "Access")."""

import base64
import hashlib
import re
from html.parser import HTMLParser

import pytest
from django.conf import global_settings, settings
from django.contrib.auth.hashers import check_password, identify_hasher, make_password
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from registry.models import Certificate, RegistrationAct, SecurityLevel, Shelter, Title
from registry.roles import Role
from tests.config.test_settings import run_settings
from tests.registry.register import user

pytestmark = pytest.mark.django_db


class PageScripts(HTMLParser):
    """The inline scripts a page would run and the inline event handlers it carries."""

    def __init__(self):
        super().__init__(convert_charrefs=False)
        self.inline: list[str] = []
        self.handlers: list[str] = []
        self._in_script = False
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        names = dict(attrs)
        self.handlers += [f"<{tag} {name}>" for name in names if name.startswith("on")]
        if tag == "script" and "src" not in names and names.get("type") != "application/json":
            self._in_script, self._text = True, []

    def handle_data(self, data):
        if self._in_script:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "script" and self._in_script:
            self._in_script = False
            self.inline.append("".join(self._text))


def scripts_of(response) -> PageScripts:
    parser = PageScripts()
    parser.feed(response.content.decode())
    return parser


def policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


def sha256_source(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def client_for(role: Role) -> Client:
    client = Client()
    client.force_login(user(role))
    return client


def pages(demo) -> list[tuple[Role, str]]:
    """One page of every kind, with a role that may see it."""
    title = Title.objects.filter(parcel__isnull=False).first()
    act = RegistrationAct.objects.filter(status="registered").first()
    shelter = Shelter.objects.filter(classification=SecurityLevel.PUBLIC).first()
    certificate = Certificate.objects.first()
    parcel_admin = f"/admin/registry/parcel/{title.parcel_id}/change/"
    return [
        (Role.PLANNER, "/"),
        (Role.REGISTRAR, "/registry/"),
        (Role.REGISTRAR, f"/registry/titles/{title.pk}/"),
        (Role.REGISTRAR, f"/registry/titles/{title.pk}/lodge/transfer/"),
        (Role.REGISTRAR, f"/registry/acts/{act.pk}/"),
        (Role.REGISTRAR, f"/registry/certificates/{certificate.pk}/"),
        (Role.AUDITOR, "/registry/audit/"),
        (Role.CIVIL_DEFENCE, "/shelters/"),
        (Role.CIVIL_DEFENCE, f"/shelters/{shelter.pk}/"),
        (Role.REGISTRAR, "/layers/import/"),
        (Role.PLANNER, "/layers/export/"),
        (Role.PLANNER, "/ogc/"),
        (Role.PLANNER, "/api/docs/"),
        (Role.ADMINISTRATOR, "/admin/"),
        (Role.ADMINISTRATOR, parcel_admin),
    ]


def test_pages_run_no_inline_script_and_the_policy_allows_none(demo):
    for role, path in pages(demo):
        response = client_for(role).get(path, HTTP_ACCEPT="text/html")
        assert response.status_code == 200, path
        directives = policy(response)
        assert directives["script-src"] == ["'self'"], path
        assert directives["object-src"] == ["'none'"] and directives["frame-ancestors"] == [
            "'none'"
        ]
        page = scripts_of(response)
        assert [text for text in page.inline if text.strip()] == [], path
        assert page.handlers == [], path


@pytest.mark.parametrize("path", ["/map/", "/landuse/"])
def test_map_pages_allow_exactly_their_own_inline_scripts(demo, path):
    response = client_for(Role.PLANNER).get(path)
    allowed = set(policy(response)["script-src"])
    page = scripts_of(response)
    assert page.inline, "a map page is built with inline scripts"
    for text in page.inline:
        assert sha256_source(text) in allowed
    assert "'unsafe-inline'" not in allowed
    assert {"'self'", "'unsafe-eval'"} <= allowed
    # Nothing else: one hash per distinct inline script.
    hashes = {source for source in allowed if source.startswith("'sha256-")}
    assert hashes == {sha256_source(text) for text in page.inline}
    # The next page, without a map, gets the plain policy again.
    assert policy(client_for(Role.PLANNER).get("/"))["script-src"] == ["'self'"]


def test_security_headers(demo):
    response = client_for(Role.PLANNER).get("/")
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


def test_production_settings_send_hsts_and_secure_cookies():
    shown = run_settings(
        DEBUG="0",
        SECRET_KEY="a-long-random-production-key-0123456789abcdef",
        code="from django.conf import settings as s; print(s.SECURE_HSTS_SECONDS, "
        "s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE)",
    )
    assert shown.returncode == 0, shown.stderr
    hsts, subdomains, session_secure, csrf_secure = shown.stdout.split()
    assert int(hsts) >= 365 * 24 * 3600
    assert subdomains == session_secure == csrf_secure == "True"


def test_hsts_is_sent_over_https(settings, demo):
    settings.SECURE_HSTS_SECONDS = 31536000
    response = client_for(Role.PLANNER).get("/", secure=True)
    assert response["Strict-Transport-Security"].startswith("max-age=31536000")


def test_passwords_are_hashed_by_djangos_default_hasher():
    from config import settings as project_settings

    # The project does not choose a hasher: Django's default (PBKDF2-SHA256) applies.
    assert not hasattr(project_settings, "PASSWORD_HASHERS")
    with pytest.MonkeyPatch.context() as patch:
        from django.conf import settings

        patch.setattr(settings, "PASSWORD_HASHERS", global_settings.PASSWORD_HASHERS)
        encoded = make_password("correct horse")
        assert identify_hasher(encoded).algorithm == "pbkdf2_sha256"
        assert check_password("correct horse", encoded)


def log_in(client: Client, username: str, password: str, address: str = "127.0.0.1"):
    return client.post(
        "/accounts/login/",
        {"username": username, "password": password},
        REMOTE_ADDR=address,
    )


def test_the_session_cookie_is_httponly_samesite_and_ends_with_the_browser(settings):
    account = user(Role.PLANNER, "cookie-planner")
    account.set_password("a long enough password")
    account.save()
    response = log_in(Client(), "cookie-planner", "a long enough password")
    assert response.status_code == 302
    cookie = response.cookies["sessionid"]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert not cookie["max-age"] and not cookie["expires"], "a browser-session cookie"
    assert settings.SESSION_COOKIE_AGE <= 8 * 3600


def test_five_wrong_passwords_lock_the_name_out_from_that_address():
    account = user(Role.REGISTRAR, "lockout-registrar")
    account.set_password("the right password")
    account.save()
    client = Client()
    answers = [log_in(client, "lockout-registrar", "wrong").status_code for _ in range(5)]
    # The fifth failure locks the name out from this address, and says so.
    assert answers == [200, 200, 200, 200, 429]
    locked = log_in(client, "lockout-registrar", "the right password")
    assert locked.status_code == 429
    assert b'id="locked-out"' in locked.content
    assert "_auth_user_id" not in client.session
    # Another address is not locked out: a stranger cannot lock a registrar out.
    elsewhere = log_in(Client(), "lockout-registrar", "the right password", address="10.0.0.9")
    assert elsewhere.status_code == 302


def test_ogc_basic_auth_guessing_is_locked_out_too():
    account = user(Role.PLANNER, "lockout-gis")
    account.set_password("the right password")
    account.save()

    def basic(password: str) -> int:
        token = base64.b64encode(f"lockout-gis:{password}".encode()).decode()
        return (
            Client()
            .get("/ogc/collections", {"f": "json"}, HTTP_AUTHORIZATION=f"Basic {token}")
            .status_code
        )

    assert basic("the right password") == 200
    assert [basic("wrong") for _ in range(5)] == [401, 401, 401, 401, 429]
    assert basic("the right password") == 429


def url_paths() -> list[str]:
    """Every URL pattern of the project, filled with placeholder arguments."""
    paths = []

    def walk(patterns, prefix: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                paths.append(prefix + str(pattern.pattern))

    walk(get_resolver().url_patterns, "")
    filled = []
    for raw in paths:
        # Regular-expression patterns: the groups the project uses, then the anchors.
        path = re.sub(r"\(\?P<\w+>-\?\\d\+\)", "1", raw)
        # A group of alternatives (the admin's app labels): the first; any other group: x.
        path = re.sub(
            r"\(\?P<\w+>([^)]*)\)",
            lambda group: group[1].split("|")[0] if "|" in group[1] else "x",
            path,
        )
        path = re.sub(r"<int:\w+>", "1", path)
        path = re.sub(r"<(str:)?\w+>", "x", path)
        path = re.sub(r"<path:\w+>", "x", path)
        path = path.replace("^", "").replace("$", "").replace("/?", "/").replace("\\.", ".")
        path = path.replace("(?:", "").replace(")?", "")
        filled.append("/" + path)
    return sorted(set(filled))


def test_every_url_refuses_a_post_without_a_csrf_token(demo):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user(Role.ADMINISTRATOR))
    checked = 0
    for path in url_paths():
        if re.search(r"[()\[\]*+?\\]", path):
            pytest.fail(f"a URL pattern this test cannot fill in: {path}")
        # Without a token of any kind: a page seen before (one with a form) would have set
        # the cookie, and DRF then parses the body for the token first (415 for a form).
        client.cookies.pop(settings.CSRF_COOKIE_NAME, None)
        response = client.post(path, {"anything": "1"})
        if response.status_code == 404 and b"CSRF" not in response.content:
            # Django resolves the URL before the CSRF check; a placeholder that names no
            # view (a static file, an admin app) is answered 404 first.
            continue
        assert response.status_code == 403, f"{path}: {response.status_code}"
        # Swagger UI's page answers DRF's CSRF refusal with the site's refusal page.
        assert b"CSRF" in response.content or b"Not for your role" in response.content, path
        checked += 1
    assert checked >= 40


def test_every_post_form_carries_a_csrf_token(demo):
    for role, path in pages(demo):
        page = client_for(role).get(path).content.decode()
        for form in re.findall(r"<form[^>]*method=\"post\"[^>]*>.*?</form>", page, re.S | re.I):
            assert "csrfmiddlewaretoken" in form, f"{path}: {form[:120]}"
