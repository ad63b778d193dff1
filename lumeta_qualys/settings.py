"""Django settings, read from the environment through django-environ.

Every value has a safe first-run default except the secrets: with DEBUG off,
``SECRET_KEY`` and ``CREDENTIALS_KEY`` must be set or start-up fails with a
message that names the missing variable. ``scripts/run`` writes both into the
git-ignored ``.env`` file on its first run.
"""

from pathlib import Path

import environ
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
ENV_FILE = Path(env.str("LUMETA_ENV_FILE", default=str(BASE_DIR / ".env")))
if ENV_FILE.exists() and not ENV_FILE.is_dir():
    env.read_env(ENV_FILE)
elif "LUMETA_ENV_FILE" in env.ENVIRON:
    raise ImproperlyConfigured(
        f"The environment variable LUMETA_ENV_FILE={str(ENV_FILE)!r} names no file. Correct the "
        "path, or remove the variable to read .env beside manage.py."
    )

# The words django-environ reads as true and as false; anything else is a typing error.
TRUE_WORDS = set(environ.Env.BOOLEAN_TRUE_STRINGS)
FALSE_WORDS = {"false", "off", "n", "no", "0", ""}


def switch(name: str, default: bool) -> bool:
    """Return the environment variable ``name`` as a yes/no setting.

    A value that is neither, such as "maybe", stops start-up with a message
    naming the variable: read as false, it would switch a protection off.
    """
    if name not in env.ENVIRON:
        return default
    text = env.ENVIRON[name].strip()
    if text.lower() in TRUE_WORDS:
        return True
    if text.lower() in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(
        f"The environment variable {name}={text!r} is neither true nor false. Set it to 1 or 0 "
        f"(true/false, yes/no, on/off), or remove it to use the default ({int(default)})."
    )


DEBUG = switch("DEBUG", False)


def required_secret(name: str) -> str:
    """Return the secret ``name``, or a throw-away value in DEBUG mode.

    Production has no committed default: a missing secret stops start-up with
    a message naming the variable and how to create it.
    """
    value = env.str(name, default="")
    if value:
        return value
    if DEBUG:
        return DEBUG_SECRETS[name]
    raise ImproperlyConfigured(
        f"The environment variable {name} is missing. Set it in the environment or in "
        f"{ENV_FILE} (scripts/run generates one), or set DEBUG=1 for a development run."
    )


def whole_number(name: str, default: int, minimum: int = 0) -> int:
    """Return the environment variable ``name`` as a whole number of at least ``minimum``.

    A value that is no whole number, or is too small, stops start-up with a
    message naming the variable, instead of a ValueError traceback.
    """
    text = env.str(name, default=str(default)).strip()
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < minimum:
        raise ImproperlyConfigured(
            f"The environment variable {name}={text!r} is not a whole number of {minimum} or "
            f"more. Set it to such a number, or remove it to use the default ({default})."
        )
    return value


def decimal_number(name: str, default: float) -> float:
    """Return the environment variable ``name`` as a number above 0, such as 10 or 2.5."""
    text = env.str(name, default=str(default)).strip()
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not value > 0 or value == float("inf"):
        raise ImproperlyConfigured(
            f"The environment variable {name}={text!r} is not a number above 0. Set it to such "
            f"a number of seconds, or remove it to use the default ({default:g})."
        )
    return value


# Development-only values, used only while DEBUG is on.
DEBUG_SECRETS = {
    "SECRET_KEY": "django-insecure-development-only-key-never-used-with-debug-off",
    # A valid Fernet key (32 zero bytes, base64): fine for throw-away data only.
    "CREDENTIALS_KEY": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
}

SECRET_KEY = required_secret("SECRET_KEY")

# One or more Fernet keys, comma-separated. The first encrypts and every key
# decrypts, so a new key can be put first and the old one kept until every
# stored credential has been saved again.
CREDENTIALS_KEYS = [key.strip() for key in required_secret("CREDENTIALS_KEY").split(",")]
for _key in CREDENTIALS_KEYS:
    try:
        Fernet(_key.encode())
    except ValueError:
        raise ImproperlyConfigured(
            "The environment variable CREDENTIALS_KEY is not a valid Fernet key (32 url-safe "
            "base64-encoded bytes; several keys are separated by commas). Generate one with: "
            "python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'"
        ) from None

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # intcomma: counts written as 1,234,567.
    "django.contrib.humanize",
    "django_celery_beat",
    "accounts",
    "inventory",
    "integrations",
    "dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.ApiTokenMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "lumeta_qualys.urls"
WSGI_APPLICATION = "lumeta_qualys.wsgi.application"

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
            ],
        },
    },
]

# SQLite by default; DATABASE_URL (postgres://user:pass@host:port/name) for PostgreSQL.
DATA_DIR = Path(env.str("DATA_DIR", default=str(BASE_DIR / "var")))
DATABASE_ENGINES = {"django.db.backends.postgresql", "django.db.backends.sqlite3"}
try:
    DATABASES = {
        "default": env.db("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'db.sqlite3'}"),
    }
    problem = None
except (ImproperlyConfigured, KeyError, ValueError) as error:
    problem = str(error)
else:
    engine = DATABASES["default"]["ENGINE"]
    problem = None if engine in DATABASE_ENGINES else f"its scheme gives the engine {engine!r}"
if problem is not None:
    raise ImproperlyConfigured(
        f"The environment variable DATABASE_URL is not a database address that this product "
        f"reads ({problem}). Use postgres://USER:PASSWORD@HOST:PORT/NAME or sqlite:///PATH, or "
        "remove it to use SQLite in DATA_DIR."
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # WAL lets dashboard readers keep their snapshot while a sync replaces the
    # Qualys tables in one transaction; the timeout lets writers queue.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
else:
    # Seconds a connection is reused; health checks drop one the server closed.
    DATABASES["default"]["CONN_MAX_AGE"] = whole_number("CONN_MAX_AGE", 0)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard:index"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if switch("STATIC_MANIFEST", not DEBUG)
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# Uploads of discovery files stream to disk past this size instead of memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 20 * 1024 * 1024
# Largest discovery file the upload page and the import endpoint accept.
IMPORT_MAX_UPLOAD_BYTES = whole_number("IMPORT_MAX_UPLOAD_BYTES", 2 * 1024 * 1024 * 1024, 1)
# Hours the upload page keeps the file of a preview, so that its report can
# import the same file; 0 deletes it when the preview ends.
IMPORT_PREVIEW_KEEP_HOURS = whole_number("IMPORT_PREVIEW_KEEP_HOURS", 24)
# Days a host may stay stale before `manage.py expire_hosts` deletes it; 0 keeps stale hosts.
INVENTORY_STALE_EXPIRY_DAYS = whole_number("INVENTORY_STALE_EXPIRY_DAYS", 0)

# Security settings that `manage.py check --deploy` asks for. HTTPS is
# terminated in front of the app in production; a plain-HTTP development run
# sets DEBUG=1 or SECURE_SSL_REDIRECT=0 and SESSION_COOKIE_SECURE=0.
SECURE_SSL_REDIRECT = switch("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = switch("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = switch("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = whole_number("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = switch("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = switch("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if switch("BEHIND_HTTPS_PROXY", False) else None
)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
X_FRAME_OPTIONS = "DENY"

# Celery: Redis is the broker. The sync's hard time limit must stay below the
# broker's visibility timeout, or Redis hands a still-running sync to a second
# worker; the sync lock's lease covers the gap (see integrations.services.lock).
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0").strip()
if not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
    raise ImproperlyConfigured(
        f"The environment variable REDIS_URL={REDIS_URL!r} is not a Redis address. Use "
        "redis://HOST:PORT/DB (rediss:// with TLS, or unix:///PATH for a socket), or remove it "
        "to use redis://127.0.0.1:6379/0."
    )
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
SYNC_SOFT_TIME_LIMIT = whole_number("SYNC_SOFT_TIME_LIMIT", 3 * 3600, 1)
SYNC_TIME_LIMIT = whole_number("SYNC_TIME_LIMIT", SYNC_SOFT_TIME_LIMIT + 300, 1)
if SYNC_TIME_LIMIT <= SYNC_SOFT_TIME_LIMIT:
    raise ImproperlyConfigured(
        f"SYNC_TIME_LIMIT ({SYNC_TIME_LIMIT} s) must be greater than SYNC_SOFT_TIME_LIMIT "
        f"({SYNC_SOFT_TIME_LIMIT} s): the soft limit lets a sync record why it stopped before the "
        "hard limit ends it. Raise SYNC_TIME_LIMIT, or remove it to use the soft limit + 300."
    )
# The sync lock is a Redis lease renewed by the running sync; it lapses this
# many seconds after its holder dies (a killed worker), so the next sync runs.
SYNC_LOCK_LEASE_SECONDS = whole_number("SYNC_LOCK_LEASE_SECONDS", 120, 1)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": whole_number("CELERY_VISIBILITY_TIMEOUT", SYNC_TIME_LIMIT + 3600, 1),
}
if CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] <= SYNC_TIME_LIMIT:
    raise ImproperlyConfigured(
        "CELERY_VISIBILITY_TIMEOUT must be greater than SYNC_TIME_LIMIT "
        f"({CELERY_BROKER_TRANSPORT_OPTIONS['visibility_timeout']} <= {SYNC_TIME_LIMIT}), "
        "or Redis redelivers a sync that is still running."
    )
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ACKS_LATE = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# Qualys client. QUALYS_CA_BUNDLE names extra trusted certificates (a
# corporate CA, the emulator's self-signed certificate) added to the system
# trust store for Qualys calls only.
# The file is checked when a client is built: scripts/run names the emulator's
# certificate before the emulator has written it.
QUALYS_CA_BUNDLE = env.str("QUALYS_CA_BUNDLE", default="").strip() or None
QUALYS_CONNECT_TIMEOUT = decimal_number("QUALYS_CONNECT_TIMEOUT", 10.0)
QUALYS_READ_TIMEOUT = decimal_number("QUALYS_READ_TIMEOUT", 300.0)
# A rate-limit wait longer than this fails the call with the time to retry
# instead of holding a worker.
QUALYS_MAX_WAIT_SECONDS = whole_number("QUALYS_MAX_WAIT_SECONDS", 300)
# Qualys calls the sync keeps in flight at once across every worker (a Redis
# semaphore); Qualys's standard subscription allows 2 concurrent calls per API.
QUALYS_MAX_CONCURRENT_CALLS = whole_number("QUALYS_MAX_CONCURRENT_CALLS", 2, 1)

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").strip().upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(
        f"The environment variable LOG_LEVEL={LOG_LEVEL!r} is not a log level. Set it to DEBUG, "
        "INFO, WARNING, ERROR or CRITICAL, or remove it to use INFO."
    )

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "filters": {
        "forbidden_without_traceback": {"()": "lumeta_qualys.logs.ForbiddenWithoutTraceback"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # urllib3 logs request lines at DEBUG; keep it quiet so no URL with a
        # parameter ends up in a log by accident.
        "urllib3": {"level": "WARNING"},
        "django.request": {"filters": ["forbidden_without_traceback"]},
    },
}
