"""The Qualys API server field: what it accepts, how it stores it, and what it rejects."""

import pytest
from django.core.exceptions import ValidationError

from integrations.constants import PLATFORMS
from integrations.forms import normalize_server

ACCEPTED = [
    ("qualysapi.qualys.com", "https://qualysapi.qualys.com"),
    ("https://qualysapi.qualys.com", "https://qualysapi.qualys.com"),
    ("https://qualysapi.qualys.com/", "https://qualysapi.qualys.com"),
    ("HTTPS://QualysAPI.Qualys.EU", "https://qualysapi.qualys.eu"),
    ("  qualysapi.qg2.apps.qualys.com  ", "https://qualysapi.qg2.apps.qualys.com"),
    ("qualysapi.qualys.com.", "https://qualysapi.qualys.com"),
    ("qualysapi.qualys.com:443", "https://qualysapi.qualys.com"),
    ("qualys-proxy.example.com:8443", "https://qualys-proxy.example.com:8443"),
    ("localhost", "https://localhost"),
    ("127.0.0.1", "https://127.0.0.1"),
    ("127.0.0.1:8443", "https://127.0.0.1:8443"),
    ("https://127.0.0.1:8443", "https://127.0.0.1:8443"),
    ("https://127.0.0.1:8443/", "https://127.0.0.1:8443"),
    ("[::1]:8443", "https://[::1]:8443"),
    ("https://[::1]:8443", "https://[::1]:8443"),
    ("[::1]", "https://[::1]"),
    ("::1", "https://[::1]"),
    ("2001:db8::10", "https://[2001:db8::10]"),
    ("[2001:DB8:0:0::10]:1", "https://[2001:db8::10]:1"),
    ("[::1:8443]", "https://[::1:8443]"),
    ("192.0.2.10:65535", "https://192.0.2.10:65535"),
    ("bücher.example", "https://xn--bcher-kva.example"),
]

REJECTED = [
    # (value, words the message must contain)
    ("http://qualysapi.qualys.com", "scheme “http://” is not supported"),
    ("ftp://qualysapi.qualys.com", "scheme “ftp://” is not supported"),
    ("http:qualysapi.qualys.com", "scheme “http:” is not supported"),
    ("https://qualysapi.qualys.com/api/2.0/fo/", "path “/api/2.0/fo/” is not allowed"),
    ("qualysapi.qualys.com/api", "path “/api” is not allowed"),
    ("https://qualysapi.qualys.com?action=list", "query string"),
    ("https://qualysapi.qualys.com/?x=1", "query string"),
    ("https://qualysapi.qualys.com#top", "fragment"),
    ("https://user@qualysapi.qualys.com", "user name or password in the address"),
    ("https://user:secret@qualysapi.qualys.com", "user name or password in the address"),
    ("qualysapi.qualys.com:0", "port “0” is not a number from 1 to 65535"),
    ("qualysapi.qualys.com:65536", "port “65536”"),
    ("qualysapi.qualys.com:https", "port “https”"),
    ("127.0.0.1:", "port “”"),
    ("https://", "host name is missing"),
    (":8443", "host name is missing"),
    ("qualys api.example.com", "spaces are not allowed"),
    ("qualys_api.example.com", "not a valid host name"),
    ("-qualys.example.com", "not a valid host name"),
    ("qualys..example.com", "not a valid host name"),
    ("a" * 64 + ".example.com", "not a valid host name"),
    (("a" * 60 + ".") * 5 + "com", "not a valid host name"),
    ("256.1.1.1", "not a valid IPv4 address"),
    ("010.0.0.1", "not a valid IPv4 address"),
    ("1.2.3", "not a valid IPv4 address"),
    ("[::1", "no closing “]”"),
    ("[::1]x", "unexpected text “x”"),
    ("[not-ipv6]:8443", "not a valid IPv6 address"),
    ("[fe80::1%eth0]:8443", "zone index"),
    ("fe80::1%eth0", "zone index"),
    ("2001:db8::1:8443:x", "neither a host name nor an IPv6 address"),
    ("::1:8443", "could be the IPv6 address ::1:8443 or ::1 with port 8443"),
    ("2001:db8::1:443", "[2001:db8::1:443] for the address, or [2001:db8::1]:443 for"),
    ("qualysapi.qualys.com!", "not a valid host name"),
]


@pytest.mark.parametrize(("value", "stored"), ACCEPTED)
def test_server_accepts_and_normalises(value, stored):
    assert normalize_server(value) == stored


@pytest.mark.parametrize(("value", "expected_words"), REJECTED)
def test_server_rejects_with_reason(value, expected_words):
    with pytest.raises(ValidationError) as raised:
        normalize_server(value)
    message = raised.value.messages[0]
    assert expected_words in message
    # Every message names the value and says what to enter instead.
    assert f"“{value.strip()}”" in message
    assert "such as qualysapi.qualys.com, 127.0.0.1:8443 or [::1]:8443" in message


@pytest.mark.parametrize(("code", "host"), PLATFORMS)
def test_server_accepts_every_listed_platform(code, host):
    assert normalize_server(host) == f"https://{host}"
