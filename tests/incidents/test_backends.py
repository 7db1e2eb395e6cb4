"""Users for safe requests come from a few-seconds cache (incidents.backends); writes never do."""

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from incidents import backends
from tests.factories import UserFactory, declare_incident

pytestmark = pytest.mark.django_db


@pytest.fixture
def scene(db):
    responder = UserFactory(role="responder", first_name="Rita")
    return {"incident": declare_incident(declared_by=responder), "responder": responder}


def reader(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_removed_role_refuses_the_next_write_at_once_and_reads_within_seconds(scene, monkeypatch):
    incident = scene["incident"]
    page = incident.get_absolute_url()
    client = reader(scene["responder"])
    assert 'id="update-form"' in client.get(page).content.decode()
    scene["responder"].groups.set([Group.objects.get(name="viewer")])
    response = client.post(f"{page}notes/", {"text": "still here?"})
    assert response.status_code == 403
    # Reads trust the user loaded a moment ago, for at most USER_CACHE_SECONDS.
    clock = backends.time.monotonic()
    monkeypatch.setattr(backends.time, "monotonic", lambda: clock + backends.USER_CACHE_SECONDS + 0.1)
    assert 'id="update-form"' not in client.get(page).content.decode()


def test_a_deactivated_user_is_logged_out_of_writes_at_once(scene):
    page = scene["incident"].get_absolute_url()
    client = reader(scene["responder"])
    client.get(page)
    scene["responder"].is_active = False
    scene["responder"].save(update_fields=["is_active"])
    response = client.post(f"{page}notes/", {"text": "still here?"})
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


def test_the_readers_user_is_a_copy_no_request_can_change_for_the_next(scene):
    backends.reading.set(True)
    try:
        backend = backends.CachedReaderBackend()
        first = backend.get_user(scene["responder"].pk)
        first.first_name = "Mallory"
        assert backend.get_user(scene["responder"].pk).first_name == "Rita"
    finally:
        backends.reading.set(False)


def test_the_admin_loads_the_user_afresh_even_to_read(db):
    staff = UserFactory(is_staff=True, is_superuser=True)
    client = reader(staff)
    assert client.get("/admin/").status_code == 200
    staff.is_staff = False
    staff.save(update_fields=["is_staff"])
    assert client.get("/admin/").status_code == 302
