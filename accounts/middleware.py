"""Bearer-token authentication for the views meant for scripts."""

from django.utils import timezone
from django.utils.functional import SimpleLazyObject

from .models import ApiToken, hash_token


def accepts_api_token(view):
    """Mark a view as meant for scripts: it accepts ``Authorization: Bearer <token>``.

    Token requests carry no session cookie, so CSRF protection does not apply
    to them; the view is exempted and must not rely on a session.
    """
    view.accepts_api_token = True
    view.csrf_exempt = True
    return view


def user_for_token(header: str):
    """Return the active user a ``Bearer`` header authenticates, or None."""
    scheme, _, raw = header.partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        return None
    token = (
        ApiToken.objects.active()
        .select_related("user")
        .filter(key_hash=hash_token(raw.strip()))
        .first()
    )
    if token is None:
        return None
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    return token.user


def token_failure(header: str) -> str:
    """Return why a request's ``Authorization`` header did not authenticate it."""
    scheme, _, raw = header.partition(" ")
    if not header:
        return "the request has no Authorization header"
    if scheme.lower() != "bearer" or not raw.strip():
        return "the Authorization header is not 'Bearer <token>'"
    token = ApiToken.objects.select_related("user").filter(key_hash=hash_token(raw.strip())).first()
    if token is None:
        return "no API token has this value"
    if token.revoked_at is not None:
        return f"the API token {token.name!r} was revoked on {token.revoked_at:%Y-%m-%d %H:%M} UTC"
    return f"the account {token.user.get_username()!r} that owns this API token is inactive"


class ApiTokenMiddleware:
    """Authenticate token requests to views marked with :func:`accepts_api_token`.

    Runs before Django's LoginRequiredMiddleware, so a valid token counts as a
    login there; an invalid token leaves the request anonymous and the login
    check answers it.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        header = request.headers.get("Authorization", "")
        if not header or not getattr(view_func, "accepts_api_token", False):
            return None
        user = user_for_token(header)
        if user is not None:
            request.user = SimpleLazyObject(lambda: user)
            request.api_token_auth = True
        return None
