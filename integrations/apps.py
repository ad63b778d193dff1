from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations"

    def ready(self):
        # Importing these modules connects their signal receivers.
        from . import receivers, signals  # noqa: F401
