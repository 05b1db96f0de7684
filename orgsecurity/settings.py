"""Django settings for orgsecurity, read from environment variables (see README "Configuration").

Development (``DEBUG=1``) has safe local defaults; production (``DEBUG`` unset or 0) refuses to start
without SECRET_KEY, ALLOWED_HOSTS, PUBLIC_BASE_URL and FIELD_ENCRYPTION_KEYS.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import environ
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from orgsecurity.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", False)

# --- Secrets -----------------------------------------------------------------------------------------
_DEV_SECRET_KEY = "dev-only-insecure-secret-key-do-not-use-in-production-0123456789"  # noqa: S105
SECRET_KEY = env_str("SECRET_KEY") or ""
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY is required when DEBUG is off (50+ random characters).")
    SECRET_KEY = _DEV_SECRET_KEY
elif not DEBUG and (len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5):
    raise ImproperlyConfigured("SECRET_KEY is too short or too uniform: use 50+ random characters.")


def _fernet_keys() -> list[str]:
    keys = env_list("FIELD_ENCRYPTION_KEYS")
    if not keys:
        if not DEBUG:
            raise ImproperlyConfigured(
                "FIELD_ENCRYPTION_KEYS is required when DEBUG is off: comma-separated Fernet keys, "
                "the first encrypts and all decrypt. Make one with "
                '`python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`.'
            )
        # Development only: a stable key derived from the dev SECRET_KEY so `make run` needs no setup.
        digest = hashlib.sha256(b"orgsecurity-field-encryption:" + SECRET_KEY.encode()).digest()
        return [base64.urlsafe_b64encode(digest).decode()]
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except ValueError as exc:
            raise ImproperlyConfigured(
                f"FIELD_ENCRYPTION_KEYS item {position} is not a Fernet key (32 url-safe base64 bytes)."
            ) from exc
    return keys


FIELD_ENCRYPTION_KEYS = _fernet_keys()


def _key_hash_secret() -> bytes:
    # API keys are stored only as HMAC-SHA-256 under this server-side secret (keys/tokens.py). Without
    # KEY_HASH_SECRET it is derived from SECRET_KEY, so replacing SECRET_KEY then invalidates every API key.
    raw = env_str("KEY_HASH_SECRET") or ""
    if not raw:
        return hashlib.sha256(b"orgsecurity-api-key-hash:" + SECRET_KEY.encode()).digest()
    if len(raw) < 32:
        raise ImproperlyConfigured("KEY_HASH_SECRET must be at least 32 random characters.")
    return raw.encode()


KEY_HASH_SECRET = _key_hash_secret()

# --- Hosts and public URL ------------------------------------------------------------------------------
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
if not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS is required when DEBUG is off (comma-separated host names).")


def _public_base_url() -> str:
    raw = env_str("PUBLIC_BASE_URL") or ("http://127.0.0.1:8000" if DEBUG else "")
    if not raw:
        raise ImproperlyConfigured(
            "PUBLIC_BASE_URL is required when DEBUG is off: the https:// origin users and IdPs reach, "
            "e.g. https://security.example.com"
        )
    parts = urlsplit(raw.rstrip("/"))
    if parts.scheme not in {"http", "https"} or not parts.netloc or parts.query or parts.fragment:
        raise ImproperlyConfigured(f"PUBLIC_BASE_URL={raw!r} must look like https://host[:port] with no query.")
    if parts.path:
        raise ImproperlyConfigured(f"PUBLIC_BASE_URL={raw!r} must not have a path; serve the app at the root.")
    if not DEBUG and parts.scheme != "https":
        raise ImproperlyConfigured(f"PUBLIC_BASE_URL={raw!r} must use https when DEBUG is off.")
    return f"{parts.scheme}://{parts.netloc}"


PUBLIC_BASE_URL = _public_base_url()
CSRF_TRUSTED_ORIGINS = [PUBLIC_BASE_URL]

# --- Applications --------------------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.forms",
    "axes",
    # django-ninja's templates and static files: the admin API's reference page (/api/v1/docs) loads Swagger UI
    # from our own static files, not a CDN.
    "ninja",
    "orgsecurity.apps.OrgsecurityConfig",
    "audit.apps.AuditConfig",
    "sso.apps.SsoConfig",
    "sessions_policy.apps.SessionsPolicyConfig",
    "allowlist.apps.AllowlistConfig",
    "keys.apps.KeysConfig",
    "huey.contrib.djhuey",
    "twofactor.apps.TwoFactorConfig",
    "audit_stream.apps.AuditStreamConfig",
    "scim.apps.ScimConfig",
    "adminapi.apps.AdminApiConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "orgsecurity.middleware.RequestContextMiddleware",
    "orgsecurity.middleware.ErrorFormatMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "orgsecurity.middleware.OrgPolicyMiddleware",
    "axes.middleware.AxesMiddleware",
]

# The enforcement pipeline for every page under /orgs/<slug>/, in the order of DESIGN.md. Each entry is a
# function (request, org_slug) -> Refusal | None. Later issues insert their checks here.
ORG_PIPELINE_CHECKS = [
    "orgsecurity.pipeline.check_authenticated",
    "orgsecurity.pipeline.check_membership",
    "allowlist.checks.check_dashboard_ip",
    "sessions_policy.enforcement.check_tracked_session",
    "sessions_policy.enforcement.check_session_timeouts",
    "sessions_policy.enforcement.check_single_session",
    # Password sessions without a second factor, once an organization requires one and its grace period is over.
    "twofactor.enforcement.check_two_factor",
    # Keep last: SSO enforcement (password sessions of an SSO-only organization go to its IdP).
    "sso.rollout.enforcement.check_sso_enforcement",
]

# One-to-one policy rows of the organization loaded together with the membership (one query per request for all
# of them); checks read them from the organization object instead of querying again.
ORG_CONTEXT_RELATED = ["organization__ip_allowlist", "organization__two_factor_policy"]

FORM_RENDERER = "orgsecurity.forms.FormRenderer"
# Checks for key-authenticated API requests, run after the key is verified: each a function
# (request, api_key) -> Refusal | None. The keys app and the IP allowlist (scope "api") add theirs.
API_PIPELINE_CHECKS: list[str] = [
    "allowlist.checks.check_api_ip",
]

# Checks of the pages an IdP admin opens through an SSO set-up link (sso.setup_links.public_views), after the link
# itself: functions ``(request, setup_link) -> Refusal | None`` (the link's organization is
# ``setup_link.connection.organization``). The organization's IP allowlist applies there as on its admin pages.
SSO_SETUP_LINK_CHECKS: list[str] = [
    "allowlist.checks.check_setup_link_ip",
]

# Error answers per path prefix (orgsecurity.errors): each a dotted path to an ErrorFormat. Every error under /api/
# is JSON {"error": {"code", "message"}}, whatever produced it; a SCIM endpoint adds "/scim/" with the SCIM Error
# schema. Paths under no prefix get the HTML error pages (templates/400.html, 403, 404, 500).
# Admin API (adminapi): requests per API key per minute, counted in the shared cache (orgsecurity.ratelimit); over
# it a key gets 429 rate_limited with Retry-After.
ADMIN_API_RATE_LIMIT = env_int("ADMIN_API_RATE_LIMIT", 600, minimum=1)

ERROR_FORMATS = {
    "/api/": "orgsecurity.errors.JSON_ERRORS",
    "/scim/": "scim.errors.SCIM_ERRORS",
}

ROOT_URLCONF = "orgsecurity.urls"
WSGI_APPLICATION = "orgsecurity.wsgi.application"
AUTH_USER_MODEL = "orgsecurity.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

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
                "orgsecurity.context_processors.navigation",
            ],
        },
    },
]

# --- Database and cache --------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
try:
    DATABASES = {"default": environ.Env.db_url_config(DATABASE_URL)}
except (ValueError, KeyError) as exc:
    raise ImproperlyConfigured(f"DATABASE_URL={DATABASE_URL!r} is not a database URL: {exc}") from exc
if DATABASES["default"]["ENGINE"] not in {"django.db.backends.postgresql", "django.db.backends.sqlite3"}:
    raise ImproperlyConfigured("DATABASE_URL must be postgres://… (PostgreSQL) or sqlite:///… (local runs).")
DATABASES["default"]["CONN_MAX_AGE"] = env_int("DB_CONN_MAX_AGE", 60, minimum=0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite has one writer at a time. A transaction that begins by reading and then writes cannot wait for another
    # writer (SQLite answers "database is locked" at once), so every transaction takes the write lock when it begins
    # (BEGIN IMMEDIATE), waiting up to SQLITE_BUSY_TIMEOUT seconds for the writer before it: concurrent requests of
    # a local trial queue instead of failing with a 500.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "timeout": env_int("SQLITE_BUSY_TIMEOUT", 20, minimum=1)}
    )

CACHE_URL = env_str("CACHE_URL") or "locmemcache://"
try:
    CACHES = {"default": environ.Env.cache_url_config(CACHE_URL)}
except (ValueError, KeyError) as exc:
    raise ImproperlyConfigured(f"CACHE_URL={CACHE_URL!r} is not a cache URL (locmemcache:// or redis://…).") from exc


# --- Background worker (Huey, README "Operations") --------------------------------------------------------
# The queue the consumer (`manage.py run_huey`) reads: HUEY_URL redis://… / rediss://… (several consumers on several
# machines) or sqlite:///path (one machine). Unset: the Redis of CACHE_URL when that is Redis, else a SQLite file
# beside the SQLite database (`make run`: db-huey.sqlite3), else huey.sqlite3 in the project directory.


def _huey() -> dict:
    """The ``HUEY`` setting of ``huey.contrib.djhuey`` from HUEY_URL, HUEY_QUEUE, HUEY_WORKERS and HUEY_IMMEDIATE;
    raises ImproperlyConfigured on a value it cannot use."""
    name = env_str("HUEY_QUEUE") or "orgsecurity"
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", name):
        raise ImproperlyConfigured(f"HUEY_QUEUE={name!r} must be 1-64 characters of letters, digits, '.', '_', '-'.")
    raw = (env_str("HUEY_URL") or "").strip()
    if not raw:
        database = DATABASES["default"]
        if CACHE_URL.startswith(("redis://", "rediss://")):
            raw = CACHE_URL
        elif database["ENGINE"] == "django.db.backends.sqlite3" and str(database["NAME"]) not in {"", ":memory:"}:
            dev_db = Path(database["NAME"])
            raw = f"sqlite:///{dev_db.with_name(dev_db.stem + '-huey.sqlite3')}"
        else:
            raw = f"sqlite:///{BASE_DIR / 'huey.sqlite3'}"
    scheme = urlsplit(raw).scheme
    if scheme in {"redis", "rediss"}:
        if not urlsplit(raw).hostname:
            raise ImproperlyConfigured(f"HUEY_URL={raw!r} names no Redis host (redis://host:6379/2).")
        storage = {"huey_class": "huey.RedisHuey", "connection": {"url": raw}}
    elif scheme == "sqlite" and raw.startswith("sqlite:///") and raw[len("sqlite:///") :].strip():
        filename = Path(raw[len("sqlite:///") :])
        if str(filename) == ":memory:":
            raise ImproperlyConfigured("HUEY_URL=sqlite:///:memory: is not shared with the consumer: name a file.")
        storage = {"huey_class": "huey.SqliteHuey", "connection": {"filename": str(BASE_DIR / filename)}}
    else:
        raise ImproperlyConfigured(
            f"HUEY_URL={raw!r} is not a queue URL: use redis://host:6379/2, rediss://… or sqlite:///path/to/file."
        )
    return {
        "name": name,
        **storage,
        # Never run tasks inside the request (Huey's default under DEBUG): the worker runs them.
        "immediate": env_bool("HUEY_IMMEDIATE", False),
        "results": False,  # tasks record what they did in the database (orgsecurity.jobs), not in the queue
        "utc": True,
        "consumer": {
            "workers": env_int("HUEY_WORKERS", 2, minimum=1, maximum=64),
            "worker_type": "thread",
            "periodic": env_bool("HUEY_PERIODIC", True),
        },
    }


HUEY = _huey()

# Sessions live in the database so every process sees a sign-out or revocation on its next request.
SESSION_ENGINE = "django.contrib.sessions.backends.db"

# --- Email ---------------------------------------------------------------------------------------------
EMAIL_URL = env_str("EMAIL_URL") or ("consolemail://" if DEBUG else "smtp://localhost:25")
try:
    globals().update(environ.Env.email_url_config(EMAIL_URL))
except (ValueError, KeyError) as exc:
    raise ImproperlyConfigured(f"EMAIL_URL={EMAIL_URL!r} is not an email URL (smtp://…, consolemail://).") from exc
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL") or "orgsecurity <no-reply@localhost>"
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Authentication and brute-force protection -----------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Every form that checks a password or recovery code goes through orgsecurity.throttle, on django-axes' counters.
# Lock out one (email, client network) pair after LOGIN_FAILURE_LIMIT failures, for a cool-off, not for good.
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_CALLABLE = "orgsecurity.throttle.axes_username"
AXES_CLIENT_IP_CALLABLE = "orgsecurity.throttle.lockout_address"  # the client network, see IPV6_CLIENT_PREFIX
AXES_LOCKOUT_CALLABLE = "orgsecurity.throttle.lockout_response"
AXES_HANDLER = "orgsecurity.throttle.LoginAttemptHandler"
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ACCESS_FAILURE_LOG = True
# Never store these posted values in the failure log (axes always masks "password"); recovery_code: /accounts/recovery/.
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "recovery_code"]
AXES_VERBOSE = False
# A separate per-account ceiling across all client IPs (OWASP ASVS 2.2.1: at most 100 failures an hour).
LOGIN_ACCOUNT_FAILURE_CEILING = env_int("LOGIN_ACCOUNT_FAILURE_CEILING", 100, minimum=1, maximum=100)
LOGIN_ACCOUNT_CEILING_WINDOW = timedelta(hours=1)

# Anyone can start an SSO sign-in (/sso/<org>/login/, .../saml/login/, .../oidc/login/), and each start stores a
# pending login and a session: at most SSO_START_LIMIT starts per client network (IPv4 address, IPv6 /64) per
# SSO_START_WINDOW_SECONDS; more are answered 429 and store nothing. Counted in the cache (CACHE_URL).
SSO_START_LIMIT = env_int("SSO_START_LIMIT", 30, minimum=1)
SSO_START_WINDOW_SECONDS = env_int("SSO_START_WINDOW_SECONDS", 60, minimum=1, maximum=3600)

# Per-client limits (sign-in lockouts, SSO sign-in starts) count an IPv4 client by its address and an IPv6 client by
# its network of this many leading bits (orgsecurity.ratelimit.network_of): a /64 is one customer or LAN.
IPV6_CLIENT_PREFIX = env_int("IPV6_CLIENT_PREFIX", 64, minimum=32, maximum=128)

# --- Client IP resolution (one resolver for the whole product) -------------------------------------------


def _trusted_proxies() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    networks = []
    for item in env_list("TRUSTED_PROXIES"):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError as exc:
            raise ImproperlyConfigured(f"TRUSTED_PROXIES item {item!r} is not an IP address or CIDR.") from exc
    return networks


TRUSTED_PROXIES = _trusted_proxies()
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0, maximum=10)
if TRUSTED_PROXIES and TRUSTED_PROXY_COUNT:
    raise ImproperlyConfigured("Set TRUSTED_PROXIES or TRUSTED_PROXY_COUNT, not both.")
CLIENT_IP_HEADER = (env_str("CLIENT_IP_HEADER") or "X-Forwarded-For").strip()
if not CLIENT_IP_HEADER.replace("-", "").isalnum():
    raise ImproperlyConfigured(f"CLIENT_IP_HEADER={CLIENT_IP_HEADER!r} is not an HTTP header name.")

# --- HTTP security -------------------------------------------------------------------------------------
_SECURE = not DEBUG
SESSION_COOKIE_SECURE = _SECURE
CSRF_COOKIE_SECURE = _SECURE
# The __Host- prefix makes browsers refuse the cookie unless it is Secure, host-only and Path=/.
SESSION_COOKIE_NAME = "__Host-orgsecurity-session" if _SECURE else "orgsecurity-session"
CSRF_COOKIE_NAME = "__Host-orgsecurity-csrf" if _SECURE else "orgsecurity-csrf"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 14 * 24 * 3600, minimum=300)
CSRF_FAILURE_VIEW = "orgsecurity.views.csrf_failure"
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", _SECURE)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if _SECURE else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", _SECURE)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", _SECURE)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Only when a TLS-terminating proxy that we run sets it, e.g. "X-Forwarded-Proto".
_PROTO_HEADER = env_str("FORWARDED_PROTO_HEADER")
if _PROTO_HEADER:
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + _PROTO_HEADER.upper().replace("-", "_"), "https")

# --- Static files, i18n --------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Without collectstatic (tests, a quick local run) fall back to the plain file name instead of failing.
WHITENOISE_MANIFEST_STRICT = False
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

INVITATION_TTL = timedelta(days=7)
# Default re-authentication window for sensitive actions (organizations' session policies may shorten it).
REAUTH_MAX_AGE_SECONDS = env_int("REAUTH_MAX_AGE_SECONDS", 15 * 60, minimum=60)

# SAML metadata and OIDC discovery, keys and tokens are fetched server-side only from public addresses (and OIDC
# only over https). Exempt: these CIDRs (e.g. 127.0.0.1/32 for a
# local test IdP), or every address with "1" (development and the browser tests). Empty in production.
SSO_METADATA_ALLOW_PRIVATE_HOSTS = env_list("SSO_METADATA_ALLOW_PRIVATE_HOSTS")
if [item.lower() for item in SSO_METADATA_ALLOW_PRIVATE_HOSTS] in (["1"], ["true"], ["yes"]):
    SSO_METADATA_ALLOW_PRIVATE_HOSTS = ["0.0.0.0/0", "::/0"]
elif [item.lower() for item in SSO_METADATA_ALLOW_PRIVATE_HOSTS] in (["0"], ["false"], ["no"]):
    SSO_METADATA_ALLOW_PRIVATE_HOSTS = []
for _item in SSO_METADATA_ALLOW_PRIVATE_HOSTS:
    try:
        ipaddress.ip_network(_item, strict=False)
    except ValueError as exc:
        raise ImproperlyConfigured(
            f"SSO_METADATA_ALLOW_PRIVATE_HOSTS item {_item!r} is not an IP address or CIDR (or use 1 to allow all)."
        ) from exc


# Audit streaming (audit_stream): destinations are https:// (webhook, HEC) or tls:// (syslog) at public addresses;
# AUDIT_STREAM_ALLOW_HTTP=1 also allows plain http:// and AUDIT_STREAM_ALLOW_PRIVATE_TARGETS=1 loopback and private
# addresses (local tests and development only). AUDIT_STREAM_BATCH_SIZE: events per delivered batch of a new
# destination. Audit retention: an organization may keep its audit log N days, N at least AUDIT_RETENTION_MIN_DAYS.
AUDIT_STREAM_ALLOW_HTTP = env_bool("AUDIT_STREAM_ALLOW_HTTP", False)
AUDIT_STREAM_ALLOW_PRIVATE_TARGETS = env_bool("AUDIT_STREAM_ALLOW_PRIVATE_TARGETS", False)
AUDIT_STREAM_BATCH_SIZE = env_int("AUDIT_STREAM_BATCH_SIZE", 100, minimum=1, maximum=5000)
AUDIT_RETENTION_MIN_DAYS = env_int("AUDIT_RETENTION_MIN_DAYS", 90, minimum=1)

# SAML (sso.saml): the clock skew allowed between the IdP and this server (default: python3-saml's 300 s), applied to
# every time condition of an answer alike (IssueInstant, Conditions, SubjectConfirmationData, SessionNotOnOrAfter,
# LogoutRequest NotOnOrAfter; SAML Core §2.5.1.2, §2.4.1.2), and the largest base64 SAMLResponse accepted at the ACS
# (answers listing many groups are the large ones). The cap stays under Django's DATA_UPLOAD_MAX_MEMORY_SIZE
# (2.5 MiB), which refuses larger request bodies first.
SSO_SAML_CLOCK_SKEW_SECONDS = env_int("SSO_SAML_CLOCK_SKEW_SECONDS", 300, minimum=0, maximum=900)
SSO_SAML_MAX_RESPONSE_KIB = env_int("SSO_SAML_MAX_RESPONSE_KIB", 512, minimum=64, maximum=2048)


# --- SSO: verified domains -------------------------------------------------------------------------------
def _dns_nameservers() -> list[tuple[str, int]]:
    """SSO_DNS_NAMESERVERS: comma-separated ``ip``, ``ip:port`` or ``[ipv6]:port`` entries (empty: system resolvers)."""
    servers = []
    for item in env_list("SSO_DNS_NAMESERVERS"):
        host, port = item, "53"
        if item.startswith("["):
            host, _, rest = item[1:].partition("]")
            port = rest.removeprefix(":") or "53"
        elif item.count(":") == 1:
            host, port = item.split(":")
        try:
            ipaddress.ip_address(host)
            number = int(port)
        except ValueError as exc:
            raise ImproperlyConfigured(f"SSO_DNS_NAMESERVERS item {item!r} is not ip, ip:port or [ipv6]:port.") from exc
        if not 0 < number < 65536:
            raise ImproperlyConfigured(f"SSO_DNS_NAMESERVERS item {item!r} has a port outside 1-65535.")
        servers.append((host, number))
    return servers


SSO_DNS_NAMESERVERS = _dns_nameservers()
SSO_DNS_TIMEOUT_SECONDS = env_int("SSO_DNS_TIMEOUT_SECONDS", 5, minimum=1, maximum=30)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL") or "INFO"},
    # The worker's consumer logs through "huey" once (run_huey adds no handler of its own when one is set).
    "loggers": {
        "axes": {"level": "WARNING"},
        "huey": {"handlers": ["console"], "level": env_str("LOG_LEVEL") or "INFO", "propagate": False},
    },
}
