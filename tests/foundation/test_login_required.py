"""Every page of the project sends an anonymous visitor to the login page."""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse

pytestmark = pytest.mark.django_db

# Open by design: the login page, the health check and the empty icon. The admin has its own login.
OPEN_NAMES = {"login", "healthz", "favicon"}
SKIPPED_NAMESPACES = {"admin"}
METHODS = ["get", "post"]


def dummy_value(converter_name: str) -> str | int:
    return {"int": 1, "slug": "x", "uuid": "00000000-0000-0000-0000-000000000001", "path": "x"}.get(
        converter_name, "x"
    )


def named_patterns(resolver: URLResolver | None = None, namespace: str = ""):
    """Yield (full name, pattern) for every named URL pattern, namespaces included."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            inner = entry.namespace or ""
            if inner in SKIPPED_NAMESPACES:
                continue
            prefix = f"{namespace}{inner}:" if inner else namespace
            yield from named_patterns(entry, prefix)
        elif isinstance(entry, URLPattern) and entry.name:
            yield f"{namespace}{entry.name}", entry


def reversed_urls() -> list[tuple[str, str]]:
    urls = []
    for name, _pattern in named_patterns():
        if name in OPEN_NAMES:
            continue
        urls.append((name, reverse_with_dummies(name)))
    return urls


def reverse_with_dummies(name: str) -> str:
    """Reverse ``name``, filling each path parameter with a value its converter accepts."""
    try:
        return reverse(name)
    except Exception:
        pass
    pattern = dict(named_patterns())[name]
    kwargs = {
        key: dummy_value(type(converter).__name__.removesuffix("Converter").lower())
        for key, converter in pattern.pattern.converters.items()
    }
    if not kwargs:
        # A regex pattern: fill each named group with a digit.
        kwargs = {key: "1" for key in re.compile(str(pattern.pattern)).groupindex}
    return reverse(name, kwargs=kwargs)


URLS = reversed_urls()


def test_url_walk_finds_project_pages():
    names = {name for name, _ in URLS}
    assert {"dashboard:index", "integrations:index", "integrations:qualys"} <= names


def is_token_endpoint(url: str) -> bool:
    """Return whether the view is a script endpoint that takes an API token instead of a login."""
    view = resolve(url).func
    dispatch = getattr(getattr(view, "view_class", None), "dispatch", None)
    return bool(
        getattr(view, "accepts_api_token", False) or getattr(dispatch, "accepts_api_token", False)
    )


@pytest.mark.parametrize(("name", "url"), URLS, ids=[name for name, _ in URLS])
@pytest.mark.parametrize("method", METHODS)
def test_anonymous_redirected_to_login(client, name, url, method):
    response = getattr(client, method)(url)
    if is_token_endpoint(url) and response.status_code != 302:
        # A script endpoint may answer with an HTTP error instead of the login page.
        assert response.status_code in (401, 403, 405), f"{method.upper()} {url} ({name})"
        return
    assert response.status_code == 302, (
        f"{method.upper()} {url} ({name}) answered {response.status_code}"
    )
    assert response["Location"].startswith(f"{reverse('login')}?next="), response["Location"]


def test_login_page_open(client):
    assert client.get(reverse("login")).status_code == 200


def test_healthz_open_and_checks_database(client):
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert response.content == b"ok"


def test_admin_requires_staff_login(client):
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_healthz_exempt_from_https_redirect(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get(reverse("healthz")).status_code == 200
    response = client.get(reverse("login"))
    assert response.status_code == 301
    assert response["Location"].startswith("https://")
