"""Users of every permission level, and clients logged in as them."""

import pytest
from django.contrib.auth.models import Permission, User

PASSWORD = "correct horse battery staple"


@pytest.fixture
def admin_user(db):
    return User.objects.create_superuser("admin", "admin@example.test", PASSWORD)


@pytest.fixture
def editor(db):
    """A staff-less user allowed to change the Qualys settings and start syncs."""
    user = User.objects.create_user("editor", "editor@example.test", PASSWORD)
    user.user_permissions.add(Permission.objects.get(codename="change_qualyssettings"))
    return user


@pytest.fixture
def viewer(db):
    """A user with no permissions: sees every page read-only."""
    return User.objects.create_user("viewer", "viewer@example.test", PASSWORD)


@pytest.fixture
def editor_client(client, editor):
    client.force_login(editor)
    return client


@pytest.fixture
def viewer_client(client, viewer):
    client.force_login(viewer)
    return client


@pytest.fixture
def admin_client_logged_in(client, admin_user):
    client.force_login(admin_user)
    return client
