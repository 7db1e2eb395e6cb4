"""A runbook can name its owner team (issue 18: "Runbooks and escalation contacts can name a
team"): shown on its page, chosen in its form, set by the generator from the service's team, and
mapped from owner text equal to a team's name by the data migration."""

import importlib

import pytest
from django.apps import apps
from django.urls import reverse

from runbooks import generator, services
from runbooks.models import Runbook
from tests import factories
from tests.runbooks.conftest import make_runbook

pytestmark = pytest.mark.django_db


def test_the_generator_names_the_services_team(db):
    team = factories.TeamFactory(name="Payments", slug="payments")
    service = factories.ServiceFactory(name="Payments API", slug="payments-api", owner_team=team)
    runbook, _unknown = services.runbook_generate(answers=generator.answers_for_service(service), actor=None)
    assert runbook.owner_team == team
    assert runbook.owner == "Payments"  # the text stays, for the Markdown and for people


def test_the_form_chooses_a_team_and_the_page_shows_it(responder_client):
    team = factories.TeamFactory(name="Storage", slug="storage")
    runbook = make_runbook(owner="Dana (DBA)")
    edit = reverse("runbooks:edit", args=[runbook.slug])
    form = responder_client.get(edit).content.decode()
    assert 'name="owner_team"' in form and ">Storage</option>" in form
    payload = {key: value for key, value in responder_client.get(edit).context["form"].initial.items()}
    payload.pop("services")
    answer = responder_client.post(edit, {**payload, "owner_team": "storage"})
    assert answer.status_code == 302
    runbook.refresh_from_db()
    assert (runbook.owner_team, runbook.owner, runbook.version) == (team, "Dana (DBA)", 2)
    page = responder_client.get(reverse("runbooks:detail", args=[runbook.slug])).content.decode()
    assert "Owner team <strong>Storage</strong>" in page and "Owner <strong>Dana (DBA)</strong>" in page
    # A team that does not exist is a message on the form, not an error.
    refused = responder_client.post(edit, {**payload, "owner_team": "nope", "base_version": 2})
    assert refused.status_code == 422 and "Select a valid choice" in refused.content.decode()


def test_restoring_an_older_version_restores_its_team(responder):
    team = factories.TeamFactory(name="Storage", slug="storage")
    runbook = make_runbook()
    data = services.runbook_to_data(runbook)
    data.owner_team = "storage"
    runbook, _ = services.runbook_update(runbook=runbook, data=data, actor=responder)
    assert Runbook.objects.get(pk=runbook.pk).owner_team == team
    first = runbook.revisions.get(version=1)
    services.runbook_restore(runbook=runbook, revision=first, actor=responder)
    assert Runbook.objects.get(pk=runbook.pk).owner_team is None


def test_the_data_migration_maps_owner_text_equal_to_a_team_name(db):
    team = factories.TeamFactory(name="Payments Platform", slug="payments-platform")
    named = make_runbook(title="Named", owner="  payments   platform ")
    person = make_runbook(title="Person", owner="Dana (DBA)")
    Runbook.objects.update(owner_team=None)
    migration = importlib.import_module("runbooks.migrations.0007_owner_team_from_owner_text")
    migration.owner_team_from_text(apps, None)
    assert Runbook.objects.get(pk=named.pk).owner_team == team
    assert Runbook.objects.get(pk=person.pk).owner_team is None
