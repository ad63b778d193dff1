"""The import endpoint for scripts, authenticated by API tokens."""

import gzip
import io
import shlex
import sys
from datetime import timedelta
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import requests
from django.contrib.auth.models import Permission, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from accounts.models import ApiToken
from inventory import background
from inventory.models import Host, ImportRun
from tests.support.personas import PASSWORD
from tests.support.services import free_port, subprocess_env, wait_for_port

from .conftest import fixture_path

pytestmark = pytest.mark.django_db

URL = "/inventory/api/import/"


@pytest.fixture
def script_user(db):
    user = User.objects.create_user("script", "script@example.test", PASSWORD)
    user.user_permissions.add(Permission.objects.get(codename="add_host"))
    return user


@pytest.fixture
def token(script_user):
    return ApiToken.issue(script_user, "nightly scan")


@pytest.fixture
def live_gunicorn(transactional_db, start_process):
    """The product under gunicorn, as in production, on the test database."""
    port = free_port()
    server = start_process(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "lumeta_qualys.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
        ],
        subprocess_env(DJANGO_SETTINGS_MODULE="tests.settings"),
        name="gunicorn",
    )
    wait_for_port(port, timeout=60, process=server.process)
    return f"http://127.0.0.1:{port}"


def auth(raw: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def test_url_name_matches():
    assert reverse("inventory:api-import") == URL


def test_raw_body_imports_with_valid_token(client, token):
    _, raw = token

    response = client.post(
        f"{URL}?source=nightly&name=scan.xml",
        data=fixture_path("dual_stack_with_mac.xml").read_bytes(),
        content_type="application/xml",
        **auth(raw),
    )

    assert response.status_code == 200
    data = response.json()
    assert data["status"] == "succeeded"
    assert data["added"] == 2
    assert data["format"] == "nmap"
    assert data["file_name"] == "scan.xml"
    assert set(Host.objects.filter(source="nightly").values_list("address", flat=True)) == {
        "198.51.100.7",
        "2001:db8::7",
    }
    run = ImportRun.objects.get(pk=data["run_id"])
    assert run.via == ImportRun.Via.API
    assert run.started_by.get_username() == token[0].user.get_username()


def test_raw_body_without_name_is_named_by_source(client, token):
    _, raw = token

    response = client.post(
        f"{URL}?source=edge-feed&format=list",
        data=b"192.0.2.1\n192.0.2.300\n",
        content_type="text/plain",
        **auth(raw),
    )

    data = response.json()
    assert data["file_name"] == "edge-feed"
    assert data["rejected"][0]["message"].startswith('edge-feed line 2: "192.0.2.300"')


def test_multipart_file_with_dry_run(client, token):
    _, raw = token
    with fixture_path("bad_rows.csv").open("rb") as handle:
        response = client.post(f"{URL}?dry_run=1", {"file": handle}, **auth(raw))

    data = response.json()
    assert data["status"] == "preview"
    assert data["added"] == 6
    assert data["rejected_count"] == 3
    assert data["rejected"][0]["line"] == 7
    assert Host.objects.count() == 0


def test_missing_token_is_401_json(client):
    response = client.post(URL, data=b"192.0.2.1\n", content_type="text/plain")

    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert "valid API token" in response.json()["error"]
    assert Host.objects.count() == 0


def test_invalid_token_is_401_json(client, token):
    response = client.post(URL, data=b"192.0.2.1\n", content_type="text/plain", **auth("lq_wrong"))

    assert response.status_code == 401
    assert Host.objects.count() == 0


def test_revoked_token_is_401_json(client, token):
    api_token, raw = token
    api_token.revoke()

    response = client.post(URL, data=b"192.0.2.1\n", content_type="text/plain", **auth(raw))

    assert response.status_code == 401
    assert response.json()["error"].startswith(
        "Authentication failed: the API token 'nightly scan' was revoked on "
    )
    assert Host.objects.count() == 0


def test_session_login_is_not_enough(client, script_user):
    # The endpoint is exempt from CSRF, so a browser session must not authenticate it.
    client.force_login(script_user)

    response = client.post(URL, data=b"192.0.2.1\n", content_type="text/plain")

    assert response.status_code == 401


def test_token_without_permission_is_403(client, viewer):
    _, raw = ApiToken.issue(viewer, "read only")

    response = client.post(URL, data=b"192.0.2.1\n", content_type="text/plain", **auth(raw))

    assert response.status_code == 403
    assert response.json()["error"].startswith(
        "Importing hosts needs the permission inventory.add_host, which the token's user "
        "'viewer' lacks. Ask an administrator to grant it"
    )
    assert Host.objects.count() == 0


def test_unparseable_file_is_400_with_report(client, token):
    _, raw = token

    response = client.post(
        f"{URL}?name=bomb.xml",
        data=fixture_path("entity_bomb.xml").read_bytes(),
        content_type="application/xml",
        **auth(raw),
    )

    assert response.status_code == 400
    assert "DTD entity declarations are not allowed" in response.json()["error"]


def test_body_over_limit_is_413(client, token, settings):
    settings.IMPORT_MAX_UPLOAD_BYTES = 5
    _, raw = token

    response = client.post(URL, data=b"192.0.2.1\n", content_type="text/plain", **auth(raw))

    assert response.status_code == 413


def test_empty_body_is_400(client, token):
    _, raw = token

    response = client.post(f"{URL}?source=scan", data=b"", content_type="text/plain", **auth(raw))

    assert response.status_code == 400
    assert response.json()["error"] == (
        "The request body is empty: send the file as the body or as 'file'."
    )


def test_raw_body_needs_a_source_or_name(client, token):
    _, raw = token

    response = client.post(URL, data=b"192.0.2.1\n", content_type="text/plain", **auth(raw))

    assert response.status_code == 400
    assert response.json()["error"].startswith(
        "Name the feed of a file sent as the request body: add source=NAME"
    )
    assert Host.objects.count() == 0


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("dry-run=1", "Unknown parameter 'dry-run'. The parameters are: format, source,"),
        ("preview=1", "Unknown parameter 'preview'."),
        ("dry_run=maybe", "The parameter dry_run='maybe' is neither yes nor no. Use dry_run=1"),
        ("dry_run=", "The parameter dry_run is empty. Give a value, or leave it out."),
        ("format=", "The parameter format is empty."),
        ("name=%20", "The parameter name is empty."),
        ("dry_run=1&dry_run=0", "The parameter dry_run is given more than once. Give it once."),
        ("source=other", "The parameter source is given more than once."),
    ],
)
def test_unclear_parameters_write_nothing(client, token, query, message):
    _, raw = token

    response = client.post(
        f"{URL}?source=s&{query}", data=b"192.0.2.1\n", content_type="text/plain", **auth(raw)
    )

    assert response.status_code == 400
    assert response.json()["error"].startswith(message)
    assert Host.objects.count() == 0


@pytest.mark.parametrize(("value", "written"), [("0", 1), ("off", 1), ("true", 0), ("YES", 0)])
def test_dry_run_words(client, token, value, written):
    _, raw = token

    response = client.post(
        f"{URL}?source=s&dry_run={value}",
        data=b"192.0.2.1\n",
        content_type="text/plain",
        **auth(raw),
    )

    assert response.status_code == 200
    assert Host.objects.count() == written


def test_unknown_format_is_400(client, token):
    _, raw = token

    response = client.post(
        f"{URL}?format=xlsx&source=s", data=b"192.0.2.1\n", content_type="text/plain", **auth(raw)
    )

    assert response.status_code == 400
    assert "Unknown format" in response.json()["error"]


def test_curl_default_content_type_is_read_raw(client, token):
    # curl --data-binary sends application/x-www-form-urlencoded unless told otherwise.
    _, raw = token

    response = client.post(
        f"{URL}?name=hosts.csv",
        data=fixture_path("whitespace.csv").read_bytes(),
        content_type="application/x-www-form-urlencoded",
        **auth(raw),
    )

    assert response.status_code == 200
    assert response.json()["added"] == 3
    assert response.json()["format"] == "csv"


def test_body_without_line_breaks_names_curl_d(client, token):
    # What "curl -d @hosts.csv" sends: the file with its line breaks removed.
    _, raw = token

    response = client.post(
        f"{URL}?name=hosts.csv",
        data=b"ip,hostname192.0.2.1,web192.0.2.2,db",
        content_type="application/x-www-form-urlencoded",
        **auth(raw),
    )

    assert response.status_code in (400, 422)
    assert response.json()["warnings"][-1] == (
        "The body has no line break. curl -d removes the line breaks of a file: send it with "
        "--data-binary @FILE, as the README shows."
    )


def test_form_fields_are_parameters(client, token):
    _, raw = token
    with fixture_path("bad_rows.csv").open("rb") as handle:
        response = client.post(URL, {"file": handle, "dry_run": "1", "source": "cmdb"}, **auth(raw))

    data = response.json()
    assert data["dry_run"] is True
    assert data["source"] == "cmdb"
    assert Host.objects.count() == 0


@pytest.mark.parametrize(
    ("query", "fields", "message"),
    [
        ("", {"dry-run": "1"}, "Unknown parameter 'dry-run'."),
        ("?dry_run=1", {"dry_run": "0"}, "The parameter dry_run is given more than once."),
    ],
)
def test_unclear_form_fields_write_nothing(client, token, query, fields, message):
    _, raw = token
    with fixture_path("hosts.csv").open("rb") as handle:
        response = client.post(f"{URL}{query}", {"file": handle, **fields}, **auth(raw))

    assert response.status_code == 400
    assert response.json()["error"].startswith(message)
    assert Host.objects.count() == 0


def test_one_file_per_request(client, token):
    _, raw = token
    with (
        fixture_path("hosts.csv").open("rb") as first,
        fixture_path("list.txt").open("rb") as second,
    ):
        response = client.post(URL, {"file": [first, second]}, **auth(raw))

    assert response.status_code == 400
    assert response.json()["error"] == "The request has 2 files. Send one file per request."
    assert Host.objects.count() == 0


def test_empty_uploaded_file_is_400(client, token):
    _, raw = token

    response = client.post(URL, {"file": SimpleUploadedFile("hosts.csv", b"")}, **auth(raw))

    assert response.status_code == 400
    assert response.json()["error"] == "The file 'hosts.csv' is empty."


def test_file_without_hosts_is_422(client, token):
    _, raw = token

    response = client.post(
        f"{URL}?source=s", data=b"ip\nnot-an-address\n", content_type="text/csv", **auth(raw)
    )

    assert response.status_code == 422
    data = response.json()
    assert data["status"] == "empty"
    assert data["imported"] == 0
    assert data["rejected_count"] == 1


def post_part(client, raw: str, text: bytes, query: str):
    return client.post(f"{URL}?{query}", data=text, content_type="text/plain", **auth(raw))


def test_feed_sent_in_parts(client, token):
    _, raw = token
    gone = Host.objects.create(address="192.0.2.99", source="weekly")
    Host.objects.filter(pk=gone.pk).update(last_seen=timezone.now() - timedelta(days=1))
    feed_start = timezone.now().isoformat()

    first = post_part(client, raw, b"192.0.2.1\n", "source=weekly&mark_stale=0")
    last = post_part(client, raw, b"192.0.2.2\n", f"source=weekly&stale_before={quote(feed_start)}")

    assert first.status_code == 200
    assert first.json()["marked_stale"] == 0
    assert first.json()["warnings"] == [
        "No host of source 'weekly' was marked stale: mark_stale=0 leaves that to a later "
        "import of the source."
    ]
    assert last.json()["marked_stale"] == 1
    stale = set(Host.objects.filter(stale=True).values_list("address", flat=True))
    assert stale == {"192.0.2.99"}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("stale_before=2026-12-05T06:00:00", "is not an ISO 8601 time with a time zone"),
        ("stale_before=yesterday", "is not an ISO 8601 time with a time zone"),
        ("stale_before=2026-12-05T06:00:00+01:00", "write the + of a zone offset as %2B"),
        ("stale_before=2999-01-01T00:00:00Z", "is in the future"),
        ("stale_before=2026-12-05T06:00:00Z&mark_stale=0", "Give stale_before or mark_stale=0"),
        ("mark_stale=maybe", "The parameter mark_stale='maybe' is neither yes nor no."),
    ],
)
def test_unclear_stale_parameters_write_nothing(client, token, query, message):
    _, raw = token

    response = post_part(client, raw, b"192.0.2.1\n", f"source=s&{query}")

    assert response.status_code == 400
    assert message in response.json()["error"]
    assert Host.objects.count() == 0


def test_empty_source_is_400(client, token):
    _, raw = token

    response = post_part(client, raw, b"192.0.2.1\n", "source=&name=a.txt")

    assert response.status_code == 400
    assert response.json()["error"] == (
        "The parameter source is empty. Give a value, or leave it out."
    )
    assert Host.objects.count() == 0


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            "source=night%0Aly",
            "The parameter source 'night\\nly' contains the control character U+000A.",
        ),
        ("source=" + "s" * 256, "The parameter source is 256 characters long; the limit is 255."),
        ("name=a%09b.txt", "The parameter name 'a\\tb.txt' contains the control character U+0009."),
    ],
)
def test_unusable_source_or_name_is_400(client, token, query, message):
    _, raw = token

    response = post_part(client, raw, b"192.0.2.1\n", query)

    assert response.status_code == 400
    assert response.json()["error"].startswith(message)
    assert Host.objects.count() == 0


def test_get_is_405_with_json(client, token):
    _, raw = token

    response = client.get(URL, **auth(raw))

    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert response.json() == {
        "error": "The method GET is not allowed here. Send the file with POST."
    }


def test_put_upload_gets_405_with_fix(client, token):
    _, raw = token

    response = client.put(f"{URL}?source=pipe", data=b"192.0.2.1\n", **auth(raw))

    assert response.status_code == 405
    assert response.json()["error"] == (
        "The method PUT is not allowed here. Send the file with POST (curl -T sends PUT: add "
        "-X POST)."
    )


@pytest.mark.parametrize("method", ["put", "post", "get"])
def test_file_name_below_endpoint_gets_json_fix(client, token, method):
    # What curl -T scan.xml sends to a URL that ends in "/".
    _, raw = token

    response = getattr(client, method)(f"{URL}scan.xml?source=x", **auth(raw))

    assert response.status_code == 404
    sends = " and sends PUT" if method == "put" else ""
    assert response.json()["error"] == (
        f"No endpoint at {URL}scan.xml. Send the file with POST to the endpoint itself, from the "
        "file's folder: curl --fail-with-body --oauth2-bearer $LUMETA_TOKEN --data-binary "
        f"@scan.xml 'http://testserver{URL}?source=x&name=scan.xml' (curl -T FILE adds the "
        f"file's name to a URL that ends in '/'{sends})."
    )
    assert Host.objects.count() == 0


def test_suggested_command_runs_as_the_request_meant(client, token, tmp_path):
    # A file name with a space and a quote, and the request's own parameters.
    _, raw = token
    name = "it's a scan.txt"
    path = f"{URL}{quote(name)}?dry_run=1&source=weekly"

    message = client.put(path, data=b"192.0.2.1\n", **auth(raw)).json()["error"]
    command = shlex.split(message.split("folder: ", 1)[1].rsplit(" (curl -T", 1)[0])

    assert command[:5] == [
        "curl", "--fail-with-body", "--oauth2-bearer", "$LUMETA_TOKEN", "--data-binary"
    ]  # fmt: skip
    assert command[5] == f"@{name}"
    url = urlsplit(command[6])
    assert url.path == URL
    assert parse_qs(url.query) == {
        "dry_run": ["1"], "source": ["weekly"], "name": [name]
    }  # fmt: skip


def test_endpoint_without_slash_takes_post(client, token):
    _, raw = token

    response = client.post(
        URL.rstrip("/") + "?source=x&name=a.txt",
        data=b"192.0.2.1\n",
        content_type="text/plain",
        **auth(raw),
    )

    assert response.status_code == 200, response.content
    assert response.json()["added"] == 1


def post_chunked(client, raw: str, body: bytes, terminated: bool = True):
    """POST ``body`` as a web server hands over a body sent in chunks, with no Content-Length.

    gunicorn decodes the chunks, hands the body over as ``wsgi.input`` and
    sets ``wsgi.input_terminated``; Django's own development server does not.
    """
    environ = {
        **auth(raw),
        "HTTP_TRANSFER_ENCODING": "chunked",
        "CONTENT_LENGTH": "",
        "wsgi.input": io.BytesIO(body),
    }
    if terminated:
        environ["wsgi.input_terminated"] = True
    return client.generic("POST", f"{URL}?source=pipe", content_type="text/plain", **environ)


def test_chunked_body_is_read_whole(client, token):
    _, raw = token

    response = post_chunked(client, raw, b"192.0.2.1\n192.0.2.2\n")

    assert response.status_code == 200
    assert response.json()["added"] == 2


def test_undecoded_chunked_body_gets_411(client, token):
    _, raw = token

    response = post_chunked(client, raw, b"192.0.2.1\n", terminated=False)

    assert response.status_code == 411
    assert response.json()["error"].endswith(
        "Send it with a Content-Length: curl --data-binary @FILE, or --data-binary @- to read "
        "standard input."
    )
    assert Host.objects.count() == 0


def test_chunked_body_over_limit_gets_413(client, token, settings):
    settings.IMPORT_MAX_UPLOAD_BYTES = 5
    _, raw = token
    uploads = background.upload_directory()
    before = set(uploads.iterdir())

    response = post_chunked(client, raw, b"192.0.2.1\n")

    assert response.status_code == 413
    assert response.json()["error"].startswith(
        "The request body is more than the limit of 5 bytes (IMPORT_MAX_UPLOAD_BYTES)."
    )
    assert set(uploads.iterdir()) == before


def test_multipart_body_without_boundary_gets_json(client, token):
    _, raw = token

    response = client.post(
        URL, data=b"192.0.2.1\n", content_type="multipart/form-data", **auth(raw)
    )

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"].startswith("The multipart body cannot be read: ")
    assert "curl -F file=@FILE" in response.json()["error"]


def test_compressed_body_gets_no_curl_d_hint(client, token):
    _, raw = token

    response = client.post(
        f"{URL}?name=hosts.csv.gz",
        data=gzip.compress(b"192.0.2.1"),
        content_type="application/gzip",
        **auth(raw),
    )

    assert response.status_code == 400
    assert "gzip" in response.json()["error"]
    assert not any("line break" in warning for warning in response.json()["warnings"])


def test_chunked_body_through_gunicorn(live_gunicorn, token):
    # requests sends a generator as a chunked body with no Content-Length.
    _, raw = token

    response = requests.post(
        f"{live_gunicorn}{URL}?source=pipe",
        data=iter([b"192.0.2.1\n", b"192.0.2.2\n"]),
        headers={"Authorization": f"Bearer {raw}", "Content-Type": "text/plain"},
        timeout=60,
    )

    assert response.status_code == 200, response.text
    assert response.json()["added"] == 2


def test_address_column_parameter(client, token):
    _, raw = token

    response = client.post(
        f"{URL}?source=cmdb&address_column=" + quote("Adapters: IPs"),
        data=b"Asset,Adapters: IPs\nweb-1,192.0.2.10\n",
        content_type="text/csv",
        **auth(raw),
    )
    wrong = client.post(
        f"{URL}?source=cmdb&format=nmap&address_column=ip",
        data=b"<nmaprun/>",
        content_type="application/xml",
        **auth(raw),
    )

    assert response.status_code == 200, response.content
    assert response.json()["added"] == 1
    assert wrong.status_code == 400
    assert "address_column is read from CSV files only" in wrong.json()["error"]
    long = client.post(
        f"{URL}?source=cmdb&address_column=" + "x" * 300,
        data=b"ip\n192.0.2.1\n",
        content_type="text/csv",
        **auth(raw),
    )
    assert long.status_code == 400
    assert "The parameter address_column is 300 characters long" in long.json()["error"]


def test_name_column_parameter(client, token):
    _, raw = token

    response = client.post(
        f"{URL}?source=cmdb&name_column=Device",
        data=b"ip,Device\n192.0.2.10,core-1.example.test\n",
        content_type="text/csv",
        **auth(raw),
    )
    wrong = client.post(
        f"{URL}?source=cmdb&format=list&name_column=Device",
        data=b"192.0.2.10\n",
        content_type="text/plain",
        **auth(raw),
    )

    assert response.status_code == 200, response.content
    assert Host.objects.get().hostnames == ["core-1.example.test"]
    assert ImportRun.objects.get(pk=response.json()["run_id"]).name_column == "Device"
    assert response.json()["name_column"] == "Device"
    assert response.json()["address_column"] == ""
    assert wrong.status_code == 400
    assert "name_column is read from CSV files only" in wrong.json()["error"]
