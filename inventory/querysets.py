"""Named queries over indexed hosts."""

from django.db import models


class HostQuerySet(models.QuerySet):
    pass
