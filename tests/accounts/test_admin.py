"""The admin role manages people's roles in the Django admin but cannot give anyone, themselves
included, more than it holds: real POSTs to the admin's change forms."""

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.test import Client

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def role_admin() -> User:
    """A member of the admin group with admin access, not a superuser."""
    return UserFactory(role="admin", is_staff=True, username="ada")


@pytest.fixture
def role_admin_client(role_admin) -> Client:
    client = Client()
    client.force_login(role_admin)
    return client


def _post_user(client: Client, user: User, **changes):
    data = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "is_active": "on",
        "groups": [group.pk for group in user.groups.all()],
        "date_joined_0": "2026-01-01",
        "date_joined_1": "09:00:00",
        **changes,
    }
    return client.post(f"/admin/auth/user/{user.pk}/change/", data)


def _delete_user_permission() -> Permission:
    return Permission.objects.get(content_type__app_label="auth", codename="delete_user")


def test_an_admin_cannot_make_themselves_superuser_or_grant_permissions(role_admin_client, role_admin):
    form = role_admin_client.get(f"/admin/auth/user/{role_admin.pk}/change/").content.decode()
    assert 'name="is_superuser"' not in form
    assert 'name="is_staff"' not in form
    assert 'name="user_permissions"' not in form

    response = _post_user(
        role_admin_client,
        role_admin,
        is_superuser="on",
        user_permissions=[_delete_user_permission().pk],
        first_name="Ada",
    )
    assert response.status_code == 302
    role_admin.refresh_from_db()
    assert role_admin.first_name == "Ada", "the allowed change is saved"
    assert not role_admin.is_superuser
    assert not role_admin.user_permissions.exists()
    assert not User.objects.get(pk=role_admin.pk).has_perm("auth.delete_user")


def test_an_admin_cannot_make_another_user_staff(role_admin_client):
    responder = UserFactory(role="responder")
    assert _post_user(role_admin_client, responder, is_staff="on", is_superuser="on").status_code == 302
    responder.refresh_from_db()
    assert not responder.is_staff
    assert not responder.is_superuser


def test_an_admin_assigns_roles_but_not_a_group_with_permissions_they_lack(role_admin_client, role_admin):
    viewer = UserFactory(role="viewer")
    responders = Group.objects.get(name="responder")
    owners = Group.objects.create(name="owners")
    owners.permissions.add(_delete_user_permission())

    response = _post_user(role_admin_client, viewer, groups=[responders.pk])
    assert response.status_code == 302
    assert set(viewer.groups.all()) == {responders}

    for target in (viewer, role_admin):
        response = _post_user(role_admin_client, target, groups=[owners.pk])
        assert response.status_code == 200
        assert "Select a valid choice" in response.content.decode()
        assert not target.groups.filter(name="owners").exists()


def test_an_admin_cannot_edit_a_superuser_or_a_stronger_account(role_admin_client):
    root = UserFactory(is_superuser=True, is_staff=True, email="root@example.com")
    stronger = UserFactory(role="admin", is_staff=True, email="boss@example.com")
    stronger.user_permissions.add(_delete_user_permission())
    for target in (root, stronger):
        # Changing the email would take the account over through a password reset.
        assert _post_user(role_admin_client, target, email="ada@evil.example").status_code == 403
        target.refresh_from_db()
        assert target.email != "ada@evil.example"
        assert (
            role_admin_client.post(
                f"/admin/auth/user/{target.pk}/password/",
                {
                    "password1": "taken-over-pass-42",
                    "password2": "taken-over-pass-42",
                },
            ).status_code
            == 403
        )


def test_an_admin_cannot_add_a_permission_they_lack_to_their_own_group(role_admin_client, role_admin):
    group = Group.objects.get(name="admin")
    data = {
        "name": "admin",
        "permissions": [*group.permissions.values_list("pk", flat=True), _delete_user_permission().pk],
    }
    response = role_admin_client.post(f"/admin/auth/group/{group.pk}/change/", data)
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not User.objects.get(pk=role_admin.pk).has_perm("auth.delete_user")


def test_a_superuser_still_grants_everything(admin_client):
    user = UserFactory(role="viewer")
    response = _post_user(admin_client, user, is_staff="on", user_permissions=[_delete_user_permission().pk])
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.is_staff
    assert user.has_perm("auth.delete_user")
