"""WSGI entry point, for gunicorn: ``gunicorn lumeta_qualys.wsgi``."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lumeta_qualys.settings")

application = get_wsgi_application()
