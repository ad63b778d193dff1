"""Settings for the test suite: the project's settings with test-only secrets.

DATABASE_URL still chooses the database, so the same suite runs on SQLite
and on PostgreSQL.
"""

import os
import tempfile

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production")
# A fixed, valid Fernet key for tests only.
os.environ.setdefault("CREDENTIALS_KEY", "dGVzdC1vbmx5LWNyZWRlbnRpYWxzLWtleS0zMi1ieXQ=")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("SESSION_COOKIE_SECURE", "0")
os.environ.setdefault("CSRF_COOKIE_SECURE", "0")
os.environ.setdefault("STATIC_MANIFEST", "0")
os.environ.setdefault("DATA_DIR", tempfile.mkdtemp(prefix="lumeta-qualys-test-"))
# Tests never read the developer's local .env file.
os.environ["LUMETA_ENV_FILE"] = os.devnull
# Tests never reach the developer's Redis, where a running product keeps its
# sync lease and task queue. A test that needs Redis takes the redis_url
# fixture (a redis-server of its own); any other gets a refused connection.
# A worker or beat that a test starts gets the fixture's Redis through
# LUMETA_TEST_REDIS_URL (see tests.support.services.subprocess_env).
os.environ["REDIS_URL"] = os.environ.get("LUMETA_TEST_REDIS_URL", "redis://127.0.0.1:1/0")

from lumeta_qualys.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Worker, beat and web processes started by tests must reach the test
# database, so SQLite's test database is a file rather than memory.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": os.path.join(os.environ["DATA_DIR"], "test.sqlite3")}  # noqa: F405

# Tests serve static files from the app folders, as runserver does; no
# collectstatic step is needed before a browser test.
STATIC_ROOT = os.path.join(os.environ["DATA_DIR"], "static")
os.makedirs(STATIC_ROOT, exist_ok=True)
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
