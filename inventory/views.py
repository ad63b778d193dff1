"""Inventory pages."""

from django.views.generic import TemplateView


class HostListView(TemplateView):
    template_name = "inventory/hosts.html"
