"""Pages to create, list and revoke API tokens.

A token acts as its user on every endpoint meant for scripts, with that
user's permissions. Its raw value is shown once, right after it is created;
only its hash is stored.
"""

import logging

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views import View

from .forms import TokenCreateForm
from .models import ApiToken

logger = logging.getLogger(__name__)

# Session key that carries a new raw token from the POST to the next page view.
NEW_TOKEN_SESSION_KEY = "accounts_new_api_token"


class TokenListView(View):
    """The current user's tokens, a form to create one, and a new token shown once."""

    template_name = "accounts/tokens.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        new_token = request.session.pop(NEW_TOKEN_SESSION_KEY, None)
        return self.render_page(request, TokenCreateForm(user=request.user), new_token)

    def post(self, request: HttpRequest) -> HttpResponse:
        form = TokenCreateForm(request.POST, user=request.user)
        if not form.is_valid():
            return self.render_page(request, form, None, status=400)
        token, raw = ApiToken.issue(request.user, form.cleaned_data["name"])
        logger.info("API token %s (%s) created by %s", token.pk, token.prefix, request.user)
        request.session[NEW_TOKEN_SESSION_KEY] = {"name": token.name, "value": raw}
        return redirect("accounts:tokens")

    def render_page(self, request, form, new_token, status: int = 200) -> HttpResponse:
        context = {
            "form": form,
            "new_token": new_token,
            "tokens": ApiToken.objects.filter(user=request.user),
        }
        return render(request, self.template_name, context, status=status)


class TokenRevokeView(View):
    """Revoke one of the current user's tokens; scripts that use it stop working at once."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        token = ApiToken.objects.filter(pk=pk, user=request.user).first()
        if token is None:
            raise Http404("No such token.")
        if token.is_active:
            token.revoke()
            logger.info("API token %s (%s) revoked by %s", token.pk, token.prefix, request.user)
            messages.success(request, f"Token “{token.name}” was revoked.")
        return redirect("accounts:tokens")
