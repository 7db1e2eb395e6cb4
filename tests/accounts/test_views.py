"""Accounts: login throttling (django-axes), password reset by email through a real SMTP server,
and password change for every user."""

import re
from datetime import timedelta

import pytest
import time_machine
from axes.models import AccessAttempt
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from accounts.errors import LOCKED_OUT
from tests.factories import UserFactory
from tests.incidents.test_sending_in_two_steps import smtp  # noqa: F401  (a fixture)

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"
WRONG = "not the password"


def _log_in(client: Client, username: str, password: str):
    return client.post("/accounts/login/", {"username": username, "password": password})


def _locked_message(username: str) -> str:
    return LOCKED_OUT.format(username=username, cooloff="1 h")


def test_twenty_wrong_passwords_lock_the_account_even_for_the_right_one(client):
    user = UserFactory(role="responder", username="alice")
    for _ in range(20):
        response = _log_in(client, "alice", WRONG)
        assert response.status_code in (200, 429)
    response = _log_in(client, "alice", PASSWORD)
    assert response.status_code == 429
    assert _locked_message("alice") in response.content.decode()
    assert "Reset your password" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert client.get("/").status_code == 302, "still logged out"
    # Another account from the same address is not locked.
    UserFactory(role="responder", username="bob")
    assert _log_in(Client(), "bob", PASSWORD).status_code == 302
    assert user.is_active


def test_a_few_wrong_passwords_then_the_right_one_logs_in_and_clears_the_count(client, settings):
    UserFactory(role="responder", username="alice")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _log_in(client, "alice", WRONG).status_code == 200
    assert _log_in(client, "alice", PASSWORD).status_code == 302
    assert not AccessAttempt.objects.filter(username="alice").exists()


def test_an_admin_unlocks_a_locked_account_in_the_admin(client, settings):
    UserFactory(role="responder", username="alice")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _log_in(client, "alice", WRONG)
    assert _log_in(client, "alice", PASSWORD).status_code == 429

    # A member of the admin group, not a superuser.
    admin = UserFactory(role="admin", is_staff=True)
    staff = Client()
    staff.force_login(admin)
    attempt = AccessAttempt.objects.get(username="alice")
    assert "alice" in staff.get("/admin/axes/accessattempt/").content.decode()
    response = staff.post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": [attempt.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert _log_in(client, "alice", PASSWORD).status_code == 302


def test_login_page_offers_password_reset(client):
    body = client.get("/accounts/login/").content.decode()
    assert 'href="/accounts/password_reset/"' in body


def test_password_reset_mail_arrives_and_its_link_sets_a_new_password(client, smtp, settings):  # noqa: F811
    settings.SITE_URL = "http://incidents.example.test"
    UserFactory(role="viewer", username="carol", email="carol@example.com")
    response = client.post("/accounts/password_reset/", {"email": "carol@example.com"})
    assert response.status_code == 302
    assert "Check your mail" in client.get(response.url).content.decode()

    [mail] = smtp.snapshot()
    assert mail.to == ("carol@example.com",)
    assert mail.subject == "Reset your Incident Desk password"
    link = re.search(r"http://incidents\.example\.test(/accounts/reset/\S+/)", mail.body)
    assert link, mail.body
    form = client.get(link.group(1), follow=True)
    assert "Choose a new password" in form.content.decode()
    done = client.post(
        form.redirect_chain[-1][0], {"new_password1": "a-brand-new-pass-77", "new_password2": "a-brand-new-pass-77"}
    )
    assert done.status_code == 302
    assert "Password set" in client.get(done.url).content.decode()
    assert _log_in(Client(), "carol", "a-brand-new-pass-77").status_code == 302
    assert _log_in(Client(), "carol", PASSWORD).status_code == 200, "the old password no longer works"
    # The link works once.
    assert "This link no longer works" in client.get(link.group(1), follow=True).content.decode()


def test_repeated_password_resets_mail_an_account_once_per_window(client, smtp, settings):  # noqa: F811
    UserFactory(role="viewer", username="dave", email="dave@example.com")
    for _ in range(5):
        response = client.post("/accounts/password_reset/", {"email": "dave@example.com"})
        assert response.status_code == 302, "the page answers the same, sent or not"
    assert [mail.to for mail in smtp.snapshot()] == [("dave@example.com",)]
    later = timezone.now() + timedelta(minutes=settings.PASSWORD_RESET_MAIL_EVERY_MINUTES, seconds=1)
    with time_machine.travel(later):
        client.post("/accounts/password_reset/", {"email": "dave@example.com"})
    assert len(smtp.snapshot()) == 2


def test_password_reset_for_an_unknown_address_sends_nothing_and_says_the_same(client, smtp):  # noqa: F811
    response = client.post("/accounts/password_reset/", {"email": "nobody@example.com"})
    assert response.status_code == 302
    assert smtp.snapshot() == []


@pytest.mark.parametrize("role", ["viewer", "responder"])
def test_every_user_changes_their_own_password(client, role):
    user = UserFactory(role=role)
    client.force_login(user)
    assert 'href="/accounts/password_change/"' in client.get("/").content.decode()
    assert "Change your password" in client.get("/accounts/password_change/").content.decode()
    response = client.post(
        "/accounts/password_change/",
        {"old_password": PASSWORD, "new_password1": "another-long-pass-91", "new_password2": "another-long-pass-91"},
    )
    assert response.status_code == 302
    assert "Password changed" in client.get(response.url).content.decode()
    assert User.objects.get(pk=user.pk).check_password("another-long-pass-91")
