"""API token pages: create (shown once), list and revoke."""

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from accounts.models import ApiToken, hash_token
from tests.support.personas import PASSWORD

pytestmark = pytest.mark.django_db


def test_created_token_is_shown_once(viewer_client, viewer):
    response = viewer_client.post(reverse("accounts:tokens"), {"name": "nightly"}, follow=True)

    raw = response.context["new_token"]["value"]
    assert raw.startswith("lq_")
    assert raw.encode() in response.content
    token = ApiToken.objects.get(user=viewer)
    assert token.key_hash == hash_token(raw)
    assert token.name == "nightly"

    again = viewer_client.get(reverse("accounts:tokens"))
    assert again.context["new_token"] is None
    assert raw.encode() not in again.content
    assert token.prefix.encode() in again.content


def test_token_name_is_required(viewer_client):
    response = viewer_client.post(reverse("accounts:tokens"), {"name": ""})

    assert response.status_code == 400
    assert ApiToken.objects.count() == 0


def test_token_name_in_use_is_rejected(viewer_client, viewer):
    ApiToken.issue(viewer, "weekly-export")
    revoked, _ = ApiToken.issue(viewer, "old-feed")
    revoked.revoke()
    # Another user's token may have the same name.
    other = User.objects.create_user("someone-else", password=PASSWORD)
    ApiToken.issue(other, "nightly")

    same = viewer_client.post(reverse("accounts:tokens"), {"name": " Weekly-Export "})
    reused = viewer_client.post(reverse("accounts:tokens"), {"name": "old-feed"})
    others = viewer_client.post(reverse("accounts:tokens"), {"name": "nightly"})

    assert same.status_code == 400
    assert "You already have a token named “Weekly-Export”." in same.content.decode()
    assert reused.status_code == 302
    assert others.status_code == 302
    assert ApiToken.objects.filter(user=viewer).count() == 4


def test_list_shows_only_own_tokens(viewer_client, viewer):
    other = User.objects.create_user("other", "other@example.test", PASSWORD)
    ApiToken.issue(viewer, "mine")
    ApiToken.issue(other, "theirs")

    response = viewer_client.get(reverse("accounts:tokens"))

    assert [token.name for token in response.context["tokens"]] == ["mine"]


def test_revoke_own_token(viewer_client, viewer):
    token, _ = ApiToken.issue(viewer, "old")

    response = viewer_client.post(reverse("accounts:token-revoke", args=[token.pk]), follow=True)

    token.refresh_from_db()
    assert token.revoked_at is not None
    assert "was revoked" in response.content.decode()


def test_cannot_revoke_another_users_token(viewer_client):
    other = User.objects.create_user("other", "other@example.test", PASSWORD)
    token, _ = ApiToken.issue(other, "theirs")

    response = viewer_client.post(reverse("accounts:token-revoke", args=[token.pk]))

    assert response.status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_token_pages_need_login(client):
    response = client.get(reverse("accounts:tokens"))

    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
