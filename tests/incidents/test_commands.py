from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from incidents import errors
from incidents.models import ApiToken
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LIST = "/api/v1/incidents/"


def create_api_token(*args: str) -> str:
    out = StringIO()
    call_command("create_api_token", *args, stdout=out)
    return out.getvalue()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_prints_the_token_alone_and_it_works_against_the_api(client, responder):
    printed = create_api_token(responder.username, "--name", "Alertmanager")
    token = printed.strip()
    # Alone on one line, so TOKEN=$(python manage.py create_api_token alice) captures exactly it.
    assert printed == token + "\n"
    assert " " not in token
    stored = ApiToken.objects.get(user=responder)
    assert stored.name == "Alertmanager"
    assert stored.digest == ApiToken.digest_of(token)
    assert token not in (stored.digest, stored.name)

    response = client.get(LIST, headers=bearer(token), secure=True)
    assert response.status_code == 200
    declared = client.post(
        LIST, {"title": "Checkout down", "severity": "SEV2"}, "application/json", headers=bearer(token), secure=True
    )
    assert declared.status_code == 201
    assert declared.json()["lead"] == responder.username


def test_a_viewers_token_reads_but_cannot_declare(client, viewer):
    token = create_api_token(viewer.username).strip()
    assert client.get(LIST, headers=bearer(token), secure=True).status_code == 200
    declared = client.post(
        LIST, {"title": "Checkout down", "severity": "SEV2"}, "application/json", headers=bearer(token), secure=True
    )
    assert declared.status_code == 403


def test_each_run_makes_a_new_token_and_the_default_name_is_given(client, responder):
    first, second = create_api_token(responder.username).strip(), create_api_token(responder.username).strip()
    assert first != second
    assert set(ApiToken.objects.values_list("name", flat=True)) == {"API token"}
    for token in (first, second):
        assert client.get(LIST, headers=bearer(token), secure=True).status_code == 200


def test_an_unknown_user_is_a_clear_error(db):
    with pytest.raises(CommandError) as excinfo:
        create_api_token("ghost")
    assert str(excinfo.value) == errors.UNKNOWN_USER.format(username="ghost")
    assert not ApiToken.objects.exists()


def test_an_inactive_user_gets_no_token(db):
    UserFactory(username="gone", is_active=False)
    with pytest.raises(CommandError) as excinfo:
        create_api_token("gone")
    assert str(excinfo.value) == errors.INACTIVE_USER.format(username="gone")
    assert not ApiToken.objects.exists()


def test_a_name_longer_than_the_column_is_refused(responder):
    with pytest.raises(CommandError) as excinfo:
        create_api_token(responder.username, "--name", "x" * 101)
    assert str(excinfo.value) == errors.NAME_TOO_LONG.format(limit=100)
    assert not ApiToken.objects.exists()
