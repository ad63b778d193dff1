"""The API token page in headless Chromium: copying a new token and confirming a revoke."""

import pytest

from accounts.models import ApiToken

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_new_token_copies_and_revoke_asks_first(page, log_in, live_server, viewer):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    # A phone's width: the new token's field must fit, as it is shown only once.
    page.set_viewport_size({"width": 360, "height": 720})
    log_in(page, viewer)
    page.goto(f"{live_server.url}/accounts/tokens/")
    page.get_by_label("Name").fill("nightly scan")
    page.get_by_role("button", name="Create token").click()

    assert page.evaluate("document.documentElement.scrollWidth") == 360

    page.get_by_role("button", name="Copy").click()
    page.get_by_text("Copied.").wait_for()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == page.get_by_label("Token", exact=True).input_value()

    # Dismissing the confirmation keeps the token; accepting it revokes.
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="Revoke token nightly scan").click()
    page.wait_for_timeout(300)  # a submitted form would have loaded the list without the token
    assert page.get_by_label("Token", exact=True).count() == 1
    assert ApiToken.objects.get().is_active
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Revoke token nightly scan").click()
    page.get_by_role("cell", name="revoked", exact=False).wait_for()
    assert not ApiToken.objects.get().is_active
