"""POST bodies are encoded exactly as urllib's urlencode would encode them."""

from urllib.parse import urlencode

from hypothesis import given
from hypothesis import strategies as st

from integrations.qualys.transport import form_body

IP_LIST_TEXT = st.text(alphabet="0123456789abcdefABCDEF.,:-_~", max_size=60)


@given(st.dictionaries(st.text(max_size=12), st.one_of(IP_LIST_TEXT, st.text(max_size=30))))
def test_form_body_matches_urlencode(params):
    assert form_body(params) == urlencode(params).encode("ascii")


def test_form_body_encodes_ip_list_separators():
    body = form_body({"action": "edit", "set_ips": "192.0.2.1-192.0.2.9,2001:db8::1"})

    assert body == b"action=edit&set_ips=192.0.2.1-192.0.2.9%2C2001%3Adb8%3A%3A1"
