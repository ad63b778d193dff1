"""Pages to create and revoke API tokens."""

from django.views.generic import TemplateView, View


class TokenListView(TemplateView):
    template_name = "accounts/tokens.html"


class TokenRevokeView(View):
    pass
