from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "dashboard"
    verbose_name = "Qualys Management dashboard"

    def ready(self):
        # Importing the module connects the receivers that keep stored counts current.
        from . import receivers  # noqa: F401
