"""Root URLs. Every page but the login page and /healthz requires a login."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.generic import RedirectView


@login_not_required
@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    """Return 200 "ok" while the database answers, for load balancers and monitors."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return HttpResponse("database unavailable", status=503, content_type="text/plain")
    return HttpResponse("ok", content_type="text/plain")


@login_not_required
def favicon(request: HttpRequest) -> HttpResponse:
    """Return no content for browsers' icon request: the product has no icon.

    The product's pages name an empty icon, but the administration and the
    JSON replies do not, and a 404 there only fills the log.
    """
    response = HttpResponse(status=204)
    response["Cache-Control"] = "max-age=86400"
    return response


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Return the 404 page, or for a script that sent an API token, the message as JSON."""
    # A request with a token whose address matched no view was not authenticated,
    # but it comes from a script all the same, and the reply reveals nothing.
    from_script = getattr(request, "api_token_auth", False) or request.headers.get(
        "Authorization", ""
    ).startswith("Bearer ")
    if not from_script:
        return defaults.page_not_found(request, exception)
    message = exception.args[0] if exception.args and isinstance(exception.args[0], str) else ""
    return JsonResponse({"error": message or f"Nothing found at {request.path}."}, status=404)


handler404 = not_found

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="dashboard:index", permanent=False)),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", healthz, name="healthz"),
    path("favicon.ico", favicon, name="favicon"),
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("inventory/", include("inventory.urls")),
    path("settings/", include("integrations.urls")),
    path("dashboard/", include("dashboard.urls")),
]
