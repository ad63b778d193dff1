"""Settings pages of the integrations."""

from django.views.generic import TemplateView


class IntegrationListView(TemplateView):
    template_name = "integrations/index.html"
