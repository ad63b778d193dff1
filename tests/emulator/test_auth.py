"""Authentication: Basic auth, 401 CODE 2000, X-Requested-With, session cookie, about.php."""

import pytest
import requests

from tests.emulator.helpers import HOST_LIST, IP, LIMIT_HEADERS, call, error_of, parse

pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
def emu(module_emulator):
    return module_emulator({"users": {"apiuser": "a-password", "second": "p:with:colons"}})


def raw_get(emu, path, **kwargs):
    return requests.get(
        f"{emu.url}{path}",
        params={"action": "list"},
        verify=str(emu.cert_path),
        timeout=30,
        **kwargs,
    )


def test_bad_credentials_give_401_code_2000(emu):
    headers = {"X-Requested-With": "tests"}
    cases = {
        "wrong password": raw_get(emu, IP, auth=("apiuser", "nope"), headers=headers),
        "unknown user": raw_get(emu, IP, auth=("nobody", "a-password"), headers=headers),
        "no credentials": raw_get(emu, IP, headers=headers),
        "not basic": raw_get(emu, IP, headers={**headers, "Authorization": "Bearer x"}),
    }
    for case, response in cases.items():
        assert response.status_code == 401, case
        assert response.headers["Content-Type"] == "text/xml;charset=UTF-8", case
        assert error_of(response) == ("2000", "Bad Login/Password"), case
        assert not any(name in response.headers for name in LIMIT_HEADERS), case


def test_second_user_with_colons_in_password(emu):
    response = raw_get(
        emu, IP, auth=("second", "p:with:colons"), headers={"X-Requested-With": "tests"}
    )

    assert response.status_code == 200


def test_missing_x_requested_with_is_rejected(emu):
    response = raw_get(emu, IP, auth=(emu.username, emu.password))

    assert response.status_code == 400
    code, text = error_of(response)
    assert code == "1903"
    assert "X-Requested-With" in text
    assert "X-RateLimit-Limit" in response.headers


def test_session_login_cookie_and_logout(emu):
    session = requests.Session()
    session.trust_env = False
    session.verify = str(emu.cert_path)
    session.headers["X-Requested-With"] = "tests"

    login = session.post(
        f"{emu.url}/api/2.0/fo/session/",
        data={"action": "login", "username": emu.username, "password": emu.password},
        timeout=30,
    )
    on_v2 = session.get(f"{emu.url}{IP}", params={"action": "list"}, timeout=30)
    on_v3 = session.get(f"{emu.url}/api/3.0/fo/asset/host/", params={"action": "list"}, timeout=30)
    logout = session.post(f"{emu.url}/api/2.0/fo/session/", data={"action": "logout"}, timeout=30)
    after = session.get(f"{emu.url}{IP}", params={"action": "list"}, timeout=30)

    assert login.status_code == 200
    assert parse(login).findtext("RESPONSE/TEXT") == "Logged in"
    assert "path=/api" in login.headers["Set-Cookie"]
    assert "secure" in login.headers["Set-Cookie"]
    assert "X-RateLimit-Limit" not in login.headers
    assert on_v2.status_code == 200
    assert on_v3.status_code == 401
    assert parse(logout).findtext("RESPONSE/TEXT") == "Logged out"
    assert after.status_code == 401


def test_session_login_with_bad_password_is_401(emu):
    response = requests.post(
        f"{emu.url}/api/2.0/fo/session/",
        data={"action": "login", "username": emu.username, "password": "x"},
        headers={"X-Requested-With": "tests"},
        verify=str(emu.cert_path),
        timeout=30,
    )

    assert response.status_code == 401
    assert error_of(response)[0] == "2000"


def test_about_checks_credentials_cheaply(emu):
    ok = emu.session().get(f"{emu.url}/msp/about.php", timeout=30)
    bad = requests.get(
        f"{emu.url}/msp/about.php",
        auth=(emu.username, "nope"),
        headers={"X-Requested-With": "tests"},
        verify=str(emu.cert_path),
        timeout=30,
    )

    assert ok.status_code == 200
    assert parse(ok).tag == "ABOUT"
    assert "X-RateLimit-Limit" in ok.headers
    assert bad.status_code == 401


def test_host_list_details_none_as_credential_check(emu):
    response = call(emu, HOST_LIST, action="list", details="None", truncation_limit="1")

    assert response.status_code == 200
    assert parse(response).tag == "HOST_LIST_OUTPUT"


def test_missing_action_is_1903(emu):
    response = emu.session().get(f"{emu.url}{IP}", timeout=30)

    assert response.status_code == 400
    assert error_of(response) == ("1903", "Missing required parameter(s): action")
