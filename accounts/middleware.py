"""Bearer-token authentication for the views meant for scripts."""

from collections.abc import Callable
from functools import wraps

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.functional import SimpleLazyObject

from .models import ApiToken, hash_token

# The views that take an API token, as a refused request names them.
SCRIPT_ENDPOINTS = (
    "POST /inventory/api/import/, GET /inventory/hosts.csv, GET /dashboard/summary.json, "
    "GET /dashboard/LIST.csv (the three dashboard lists), "
    "GET /settings/integrations/qualys/sync/progress.json and "
    "GET /settings/integrations/qualys/sync/runs/ID/add-ranges.txt or group-ranges.txt"
)


def accepts_api_token(view):
    """Mark a view as meant for scripts: it accepts ``Authorization: Bearer <token>``.

    Token requests carry no session cookie, so CSRF protection does not apply
    to them; the view is exempted and must not rely on a session.
    """
    view.accepts_api_token = True
    view.csrf_exempt = True
    return view


def script_get(*parameters: str, json_errors: bool = False) -> Callable:
    """Limit a script endpoint to GET and HEAD with the named query parameters, each once.

    A misspelt parameter (``stat=stale``) would otherwise be ignored, and the
    script would get every row instead of the ones it asked for.
    """

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def checked(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            status = 400
            if request.method not in ("GET", "HEAD"):
                status = 405
                problem = f"The method {request.method} is not allowed here; use GET."
            else:
                problem = query_problem(request, parameters)
            if problem is None:
                return view(request, *args, **kwargs)
            if json_errors:
                response = JsonResponse({"error": problem}, status=status)
            else:
                response = HttpResponse(
                    problem + "\n", status=status, content_type="text/plain; charset=utf-8"
                )
            if status == 405:
                response["Allow"] = "GET, HEAD"
            return response

        return checked

    return decorate


def query_problem(request: HttpRequest, parameters: tuple[str, ...]) -> str | None:
    """Return what is wrong with the request's query parameters, or None."""
    for name in request.GET:
        problem = parameter_problem(name, request.GET.getlist(name), parameters)
        if problem is not None:
            return problem
    return None


def parameter_problem(name: str, values: list[str], parameters: tuple[str, ...]) -> str | None:
    """Return why a script endpoint rejects parameter ``name`` given ``values``, or None."""
    if name not in parameters:
        known = (
            f"The parameters are: {', '.join(parameters)}."
            if parameters
            else "This endpoint takes no parameters."
        )
        return f"Unknown parameter {name!r}. {known}"
    if len(values) > 1:
        return f"The parameter {name} is given more than once. Give it once."
    return None


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


def unauthorized_reply(message: str) -> JsonResponse:
    """Return the 401 JSON reply to a script, with the header that names the scheme."""
    response = JsonResponse({"error": message}, status=401)
    response["WWW-Authenticate"] = 'Bearer realm="lumeta-qualys"'
    return response


class ApiTokenMiddleware:
    """Authenticate token requests to views marked with :func:`accepts_api_token`.

    Runs before Django's LoginRequiredMiddleware, so a valid token counts as a
    login there. A request with an ``Authorization`` header comes from a
    script, which cannot follow a redirect to the login page: when its token
    fails, or the page takes no token, it gets a 401 JSON reply with the reason.
    Views exempt from the login (the import endpoint) answer for themselves.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        header = request.headers.get("Authorization", "")
        login_required = getattr(view_func, "login_required", True)
        if not header:
            if (
                getattr(view_func, "accepts_api_token", False)
                and login_required
                and not request.user.is_authenticated
                and "text/html" not in request.headers.get("Accept", "")
            ):
                # A script whose token variable is empty sends no header, and a
                # redirect to the login page would pass unnoticed by it. Browsers
                # accept text/html, so they still get the login page.
                return unauthorized_reply(
                    "Authentication failed: the request has no Authorization header. Send a "
                    "valid API token as 'Authorization: Bearer <token>'; create one at "
                    "/accounts/tokens/."
                )
            return None
        if getattr(view_func, "accepts_api_token", False):
            user = user_for_token(header)
            if user is not None:
                request.user = SimpleLazyObject(lambda: user)
                request.api_token_auth = True
            elif login_required:
                return unauthorized_reply(
                    f"Authentication failed: {token_failure(header)}. Send a valid API token as "
                    "'Authorization: Bearer <token>'; create one at /accounts/tokens/."
                )
            return None
        if login_required and not request.user.is_authenticated:
            return unauthorized_reply(
                "This page is for people and takes a login, not an API token. The endpoints "
                f"for scripts are {SCRIPT_ENDPOINTS}."
            )
        return None
