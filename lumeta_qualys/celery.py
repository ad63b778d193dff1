"""The Celery application. Tasks live in each app's ``tasks`` module."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lumeta_qualys.settings")

app = Celery("lumeta_qualys")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
