"""LandLedger settings, read from environment variables.

Development defaults are safe on a developer's own machine only: with ``DEBUG`` off the
development secret key is refused, so a production deployment cannot start with it.
"""

import datetime
import os
import re
from pathlib import Path
from typing import TypedDict
from urllib.parse import quote, urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

DEVELOPMENT_SECRET_KEY = "landledger-development-only-not-for-production"
DEFAULT_DATABASE_URL = "postgis://landledger:landledger@127.0.0.1:5432/landledger"
DEFAULT_BASEMAP_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
# Tianditu's vector map in Web Mercator; its hosts are t0 to t7, and every request carries
# the deployment's key.
TIANDITU_BASEMAP_URL = "https://t{s}.tianditu.gov.cn/DataServer?T=vec_w&x={x}&y={y}&l={z}&tk="
TIANDITU_SUBDOMAINS = "01234567"
# The deepest zoom each host has tiles for.
TIANDITU_MAX_NATIVE_ZOOM = 18
OPENSTREETMAP_MAX_NATIVE_ZOOM = 19


class Basemap(TypedDict):
    url: str
    subdomains: str
    max_native_zoom: int
    attribution: str


def basemap_settings(environ) -> Basemap:
    """The basemap's URL, the subdomains Leaflet puts for its ``{s}``, the deepest zoom it has
    tiles for, and its attribution.
    LANDLEDGER_BASEMAP_URL if set (empty: none); otherwise Tianditu where
    LANDLEDGER_TIANDITU_KEY is set, OpenStreetMap where not. Leaflet's own subdomains, "abc",
    name no Tianditu host: a Tianditu URL defaults to theirs."""
    key = environ.get("LANDLEDGER_TIANDITU_KEY", "").strip()
    if key:
        url, attribution = TIANDITU_BASEMAP_URL + quote(key, safe=""), "© 天地图 Tianditu"
    else:
        url, attribution = DEFAULT_BASEMAP_URL, "© OpenStreetMap contributors"
    url = environ.get("LANDLEDGER_BASEMAP_URL", url)
    host = urlsplit(url).hostname or ""
    tianditu = ".tianditu." in f".{host}"
    subdomains = TIANDITU_SUBDOMAINS if tianditu else "abc"
    max_native_zoom = TIANDITU_MAX_NATIVE_ZOOM if tianditu else OPENSTREETMAP_MAX_NATIVE_ZOOM
    return {
        "url": url,
        "subdomains": environ.get("LANDLEDGER_BASEMAP_SUBDOMAINS", subdomains),
        "max_native_zoom": int(environ.get("LANDLEDGER_BASEMAP_MAX_NATIVE_ZOOM", max_native_zoom)),
        "attribution": environ.get("LANDLEDGER_BASEMAP_ATTRIBUTION", attribution),
    }


_basemap = basemap_settings(os.environ)


def _basemap_origins() -> list[str]:
    """The basemap's origin (scheme and host), which map pages load their tiles from."""
    parts = urlsplit(_basemap["url"])
    if not (parts.scheme and parts.netloc):
        return []
    # Leaflet fills {s} with a subdomain letter; CSP allows only a whole leading label as *.
    host = re.sub(r"^[^.]*\{s\}[^.]*\.", "*.", parts.netloc)
    return [f"{parts.scheme}://{host}"]


def env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DEBUG = env_flag("DEBUG", default=True)
SECRET_KEY = os.environ.get("SECRET_KEY", DEVELOPMENT_SECRET_KEY)
if not DEBUG and SECRET_KEY == DEVELOPMENT_SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY is the development key while DEBUG is off: "
        "set SECRET_KEY to a long random value for production."
    )

ALLOWED_HOSTS = [
    host.strip()
    for host in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")
    if host.strip()
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.gis",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework_gis",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "registry",
    "gis_layers",
]

MIDDLEWARE = [
    # Outermost, so that a database that stops answering anywhere below is a clear 503.
    "config.resilience.DatabaseUnavailableMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "config.security.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Django's, with a database that went away while saving a session answered as such.
    "config.resilience.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "config.security.RefuseNulCharactersMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.error_pages.MethodNotAllowedPageMiddleware",
    # Last, as django-axes requires: it answers a locked-out login before the view runs.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    # Counts failed logins (form, admin and the OGC API's HTTP Basic alike) and refuses
    # a locked-out user name from that address before the password is even checked.
    "axes.backends.AxesStandaloneBackend",
    # Django's ModelBackend, refusing the demo accounts when DEBUG is off.
    "registry.auth.RegisterModelBackend",
]

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "gis_layers.context_processors.data_attribution",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL),
        engine="django.contrib.gis.db.backends.postgis",
        conn_max_age=60,
    )
}
# The test database is cloned from a template that already holds the extensions, so the
# application role needs CREATEDB but never superuser rights.
DATABASES["default"]["TEST"] = {
    "TEMPLATE": os.environ.get("TEST_DATABASE_TEMPLATE", "landledger_template")
}
DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = 5
# A kept connection is checked before a request reuses it: after a database restart the
# first request reconnects instead of failing on the connection the restart closed.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Behind PgBouncer in transaction mode a named (server-side) cursor would outlive the
# transaction it was declared in; iterating querysets then fetches in chunks client-side.
DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = env_flag(
    "DATABASE_TRANSACTION_POOLING", default=False
)
# The statements bound on the server (registry/db.py: the map's permission check and tile
# cache; Django's own cursor binds on the client and never prepares) are prepared once a
# connection has run one 5 times: PostgreSQL then plans it once. Not behind the pooler, where
# the next transaction may run on a server connection that never saw it prepared.
if not DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"]:
    DATABASES["default"]["OPTIONS"]["prepare_threshold"] = 5
# A streaming read replica of the same database, for reads that may lag (config/routers.py).
if os.environ.get("DATABASE_REPLICA_URL"):
    DATABASES["replica"] = dj_database_url.parse(
        os.environ["DATABASE_REPLICA_URL"],
        engine="django.contrib.gis.db.backends.postgis",
        conn_max_age=60,
    )
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
DATABASE_ROUTERS = ["config.routers.ReplicaRouter"]

MIGRATION_MODULES = {
    "registry": "migrations.registry",
    "gis_layers": "migrations.gis_layers",
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Chinese by default; English for browsers that ask for it, or by choice in the header.
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
# The project's own scripts, used by the base template (apps keep theirs beside them).
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- access (docs/reliability.md) -------------------------------------------------------
# Passwords: Django's default hasher (PBKDF2-SHA256); PASSWORD_HASHERS is left as shipped.
# Sessions: cookies JavaScript cannot read and other sites' forms do not carry; a working
# day long, ended when the browser closes.
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = int(os.environ.get("SESSION_COOKIE_AGE", str(8 * 3600)))
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
CSRF_COOKIE_SAMESITE = "Lax"
# Login rate limiting (django-axes): five failures of one user name from one address lock
# that pair out for 15 minutes; a success resets the count. Locking by the pair, not the
# user name alone, keeps a stranger from locking a registrar out of the register.
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = datetime.timedelta(minutes=int(os.environ.get("AXES_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
# Security headers. SecurityMiddleware's defaults already send nosniff, Referrer-Policy
# same-origin and Cross-Origin-Opener-Policy same-origin; clickjacking is refused outright.
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp, see config/security.py): scripts only from this
# server; the inline scripts a map page needs are allowed by their hashes, per response.
# Inline styles stay allowed: the templates and Leaflet set style attributes.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        # Map tiles from the configured basemap; vector tiles and everything else our own.
        "img-src": ["'self'", "data:", "blob:", *_basemap_origins()],
        "connect-src": ["'self'"],
        "worker-src": ["'self'", "blob:"],
        "font-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

if not DEBUG:
    SESSION_COOKIE_SECURE = env_flag("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env_flag("CSRF_COOKIE_SECURE", default=True)
    # HSTS: browsers that once reached the register over HTTPS never fall back to HTTP.
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_flag("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env_flag("SECURE_HSTS_PRELOAD", default=False)
    # Usually the TLS-terminating proxy redirects; set this where nothing else does.
    SECURE_SSL_REDIRECT = env_flag("SECURE_SSL_REDIRECT", default=False)
    if os.environ.get("SECURE_PROXY_SSL_HEADER"):
        # e.g. "HTTP_X_FORWARDED_PROTO=https", only behind a proxy that always sets it.
        header, _, value = os.environ["SECURE_PROXY_SSL_HEADER"].partition("=")
        SECURE_PROXY_SSL_HEADER = (header, value or "https")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "LandLedger API",
    "DESCRIPTION": "Register of state land, office buildings and civil-defence shelters.",
    "VERSION": "0.1.0",
    # Anonymous users see nothing but /healthz and the login page (DESIGN.md §7).
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI from our own static files: no CDN at run time (DESIGN.md §1).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # validatorUrl null: Swagger UI would otherwise send the schema to an online validator.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
}

# --- LandLedger domain settings (DESIGN.md §5, §6) -------------------------------------
# Storage datum: CGCS2000, the legal datum for Chinese cadastre.
LANDLEDGER_STORAGE_SRID = 4490
# Tolerance in m² below which two current parcels are not considered overlapping.
# Basemap tiles behind every map; set LANDLEDGER_BASEMAP_URL to "" for plain mode (offline).
LANDLEDGER_BASEMAP_URL = _basemap["url"]
LANDLEDGER_BASEMAP_SUBDOMAINS = _basemap["subdomains"]
LANDLEDGER_BASEMAP_MAX_NATIVE_ZOOM = _basemap["max_native_zoom"]
LANDLEDGER_BASEMAP_ATTRIBUTION = _basemap["attribution"]
# Uploaded layers wait here between their check and the user's confirmation.
LANDLEDGER_UPLOAD_DIR = os.environ.get("LANDLEDGER_UPLOAD_DIR", str(BASE_DIR / "var" / "uploads"))
LANDLEDGER_UPLOAD_MAX_BYTES = int(os.environ.get("LANDLEDGER_UPLOAD_MAX_MB", "200")) * 2**20
# Demo accounts with a published password exist only in development.
LANDLEDGER_DEMO_ACCOUNTS_ALLOWED = DEBUG
LANDLEDGER_OVERLAP_TOLERANCE_M2 = float(os.environ.get("LANDLEDGER_OVERLAP_TOLERANCE_M2", "1.0"))
# The projected CRS analyses measure in (gis_layers.metric): an EPSG code in metres, e.g.
# 4548 for Beijing; unset, the WGS 84 UTM zone of the data.
LANDLEDGER_METRIC_EPSG = int(os.environ.get("LANDLEDGER_METRIC_EPSG") or 0) or None

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}

# Debian 12 ships GDAL 3.6, which cannot block file and network access from spatial reference
# strings. LandLedger passes GDAL only integer EPSG codes from a whitelist, never a
# user-supplied SRS string (DESIGN.md §5), so the warning does not apply.
SILENCED_SYSTEM_CHECKS = ["gis.W001"]

# Civil defence (DESIGN.md §6). Service radius by shelter type, in metres: personnel
# shelters 200 m (GB 50038-2005 §3.1.2); the other types, when a run includes them, the 500 m
# of an emergency shelter. Places are capped at usable area ÷ area per person.
# Each run records the values it used (gis_layers.coverage.CoverageOptions).
LANDLEDGER_SHELTER_RADIUS_M = {
    "personnel": float(os.environ.get("LANDLEDGER_PERSONNEL_SHELTER_RADIUS_M", "200")),
    "default": float(os.environ.get("LANDLEDGER_OTHER_SHELTER_RADIUS_M", "500")),
}
# E2SFCA weights of the first, second and third of the radius (Luo & Qi 2009), comma-separated.
LANDLEDGER_E2SFCA_DECAY = [
    float(weight) for weight in os.environ.get("LANDLEDGER_E2SFCA_DECAY", "1,0.68,0.22").split(",")
]
LANDLEDGER_SHELTER_AREA_PER_PERSON_M2 = float(
    os.environ.get("LANDLEDGER_SHELTER_AREA_PER_PERSON_M2", "1.0")
)
if LANDLEDGER_SHELTER_AREA_PER_PERSON_M2 < 0.46:
    raise ImproperlyConfigured("LANDLEDGER_SHELTER_AREA_PER_PERSON_M2 must be at least 0.46 m²")
LANDLEDGER_SHELTER_INSPECTION_INTERVAL_DAYS = int(
    os.environ.get("LANDLEDGER_SHELTER_INSPECTION_INTERVAL_DAYS", "365")
)
