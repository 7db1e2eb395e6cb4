"""Restricted incidents (issue 17): who sees them, who restricts them, who is told."""

import re

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.test import Client

from incidents import errors, selectors, services
from incidents.models import EventKind, Incident
from notifications.models import Channel, Delivery
from tests.factories import UserFactory, declare_incident

pytestmark = pytest.mark.django_db


@pytest.fixture
def people():
    security = UserFactory(role="viewer", username="sec")
    security.groups.add(Group.objects.get_or_create(name="security")[0])
    return {
        name: UserFactory(role="responder", username=name)
        for name in ("declarer", "lead", "comms", "responder", "added", "outsider")
    } | {"security": security, "viewer": UserFactory(role="viewer", username="viewer")}


@pytest.fixture
def restricted(people):
    incident = declare_incident(
        declared_by=people["declarer"],
        lead=people["lead"],
        comms_lead=people["comms"],
        responders=[people["responder"]],
        title="Credential stuffing on login",
        security_concern=True,
    )
    services.incident_participants_add(incident=incident, actor=people["lead"], users=[people["added"]])
    return incident


def test_a_security_concern_restricts_by_default_and_only_participants_and_security_see_it(people, restricted):
    assert restricted.restricted
    for name in ("declarer", "lead", "comms", "responder", "added", "security"):
        assert selectors.visible_incidents(people[name]).filter(pk=restricted.pk).exists(), name
    for name in ("outsider", "viewer"):
        assert not selectors.visible_incidents(people[name]).filter(pk=restricted.pk).exists(), name
    added = restricted.timeline.get(kind=EventKind.ROLE_ASSIGNED, data__role="participants")
    assert added.text == "Added to the incident: " + (people["added"].get_full_name() or "added")


def test_visibility_costs_no_query_of_its_own_however_many_incidents(people, django_assert_num_queries):
    for _ in range(5):
        declare_incident(declared_by=people["lead"], security_concern=True)
        declare_incident(declared_by=people["lead"])
    with django_assert_num_queries(1):
        assert len(list(selectors.visible_incidents(people["outsider"]))) == 5
    with django_assert_num_queries(1):
        assert len(list(selectors.visible_incidents(people["lead"]))) == 10


@pytest.mark.parametrize("who", ["outsider", "viewer"])
def test_everyone_else_gets_404_on_its_pages_and_api_and_nothing_on_the_dashboard(people, restricted, who):
    client = Client()
    client.force_login(people[who])
    assert client.get(restricted.get_absolute_url()).status_code == 404
    assert client.get(restricted.get_absolute_url(), headers={"HX-Request": "true"}).status_code == 404
    assert "Credential stuffing" not in client.get("/").content.decode()
    token = services.api_token_create(user=people[who], name="t")[1]
    api = {"Authorization": f"Bearer {token}"}
    assert client.get(f"/api/v1/incidents/{restricted.reference}/", headers=api).status_code == 404
    listed = client.get("/api/v1/incidents/", headers=api).json()
    assert listed["count"] == 0 and listed["results"] == []


def test_the_api_list_counts_exactly_the_incidents_each_reader_sees(people, restricted, admin_user):
    # Restricted without a comms lead, and one open to every reader, each in its own severity.
    declare_incident(declared_by=people["lead"], severity="SEV1", security_concern=True)
    declare_incident(declared_by=people["declarer"], severity="SEV3")
    client = Client()
    seen = {}
    for name, user in [*people.items(), ("admin", admin_user)]:
        headers = {"Authorization": f"Bearer {services.api_token_create(user=user, name='t')[1]}"}
        for query in ("", "status=active", "severity=SEV1", "severity=SEV2"):
            listed = client.get(f"/api/v1/incidents/?limit=100&{query}", headers=headers).json()
            assert listed["count"] == len(listed["results"]), (name, query)
            seen[name, query] = listed["count"]
    assert [seen[name, ""] for name in ("outsider", "viewer", "declarer", "added", "security", "lead", "admin")] == [
        1, 1, 2, 2, 3, 3, 3,
    ]  # fmt: skip
    assert seen["lead", "severity=SEV1"] == 1 and seen["declarer", "severity=SEV1"] == 0
    assert seen["outsider", "severity=SEV2"] == 0 and seen["responder", "severity=SEV2"] == 1


def test_a_participant_sees_it_marked_restricted(people, restricted):
    client = Client()
    client.force_login(people["responder"])
    page = client.get(restricted.get_absolute_url()).content.decode()
    assert 'class="badge restricted"' in page and "Credential stuffing" in page


def test_the_lead_or_security_restricts_and_opens_it_on_the_timeline(people, restricted):
    with pytest.raises(ValidationError) as refused:
        services.incident_restriction_set(incident=restricted, actor=people["responder"], restricted=False)
    assert refused.value.message_dict["restricted"] == [errors.RESTRICT_LEAD_OR_SECURITY]
    services.incident_restriction_set(incident=restricted, actor=people["lead"], restricted=False)
    assert selectors.visible_incidents(people["outsider"]).filter(pk=restricted.pk).exists()
    services.incident_restriction_set(incident=restricted, actor=people["security"], restricted=True)
    assert Incident.objects.get(pk=restricted.pk).restricted
    texts = list(restricted.timeline.filter(kind=EventKind.RESTRICTION_CHANGED).values_list("text", flat=True))
    assert sorted(texts) == ["Opened to every reader", "Restricted to its participants and the security group"]


def test_patch_restricts_through_the_api(people):
    incident = declare_incident(declared_by=people["lead"])
    client = Client()
    token = services.api_token_create(user=people["lead"], name="t")[1]
    response = client.patch(
        f"/api/v1/incidents/{incident.reference}/",
        {"restricted": True},
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200 and response.json()["restricted"] is True
    assert not selectors.visible_incidents(people["outsider"]).filter(pk=incident.pk).exists()


def test_stakeholders_who_may_not_see_it_are_not_told(people):
    executives = Group.objects.get(name="executives")
    people["outsider"].groups.add(executives)
    people["lead"].groups.add(executives)
    declare_incident(declared_by=people["lead"], severity="SEV1", title="Leaked keys", security_concern=True)
    told = set(
        Delivery.objects.filter(channel=Channel.IN_APP, message__subject__contains="declared").values_list(
            "recipient", flat=True
        )
    )
    assert people["lead"].pk in told
    assert people["outsider"].pk not in told


@pytest.mark.parametrize("htmx", [False, True])
def test_the_lead_restricts_from_the_incident_page(people, htmx):
    incident = declare_incident(declared_by=people["lead"], title="Slow logins")
    client = Client()
    client.force_login(people["lead"])
    page = client.get(incident.get_absolute_url()).content.decode()
    assert f'action="/incidents/{incident.reference}/restriction/"' in page
    headers = {"HX-Request": "true", "HX-Target": "incident-body"} if htmx else {}
    response = client.post(f"/incidents/{incident.reference}/restriction/", {"restricted": "on"}, headers=headers)
    assert response.status_code == (200 if htmx else 302)
    assert not selectors.visible_incidents(people["outsider"]).filter(pk=incident.pk).exists()
    other = Client()
    other.force_login(people["responder"])
    assert other.get(incident.get_absolute_url()).status_code == 404


def test_only_the_lead_is_offered_to_restrict(people, restricted):
    client = Client()
    client.force_login(people["responder"])
    page = client.get(restricted.get_absolute_url()).content.decode()
    assert "/restriction/" not in page
    response = client.post(f"/incidents/{restricted.reference}/restriction/", {})
    assert response.status_code == 422
    assert errors.RESTRICT_LEAD_OR_SECURITY in response.content.decode()


def test_a_participant_lets_a_viewer_see_it_and_the_timeline_says_so(people, restricted):
    client = Client()
    client.force_login(people["responder"])
    response = client.post(f"/incidents/{restricted.reference}/participants/", {"people": [people["viewer"].pk]})
    assert response.status_code == 302
    viewer = Client()
    viewer.force_login(people["viewer"])
    page = viewer.get(restricted.get_absolute_url()).content.decode()
    assert "Credential stuffing" in page
    assert restricted.timeline.filter(text__startswith="Added to the incident:").count() == 2


def _rendered_form(page: str, action: str) -> dict[str, str]:
    """The hidden fields of the form the page renders for `action`, as a browser would send them."""
    [form] = re.findall(rf'<form[^>]*action="{re.escape(action)}".*?</form>', page, re.S)
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))


@pytest.mark.parametrize("who", ["lead", "security"])
@pytest.mark.parametrize("htmx", [False, True])
def test_the_lead_and_the_security_group_restrict_and_open_through_the_pages_own_form(people, who, htmx):
    """The security group (here a viewer in it) restricts from the incident page as the lead does,
    through the form the page renders, both ways; the message says what happened, the timeline
    who did it."""
    incident = declare_incident(declared_by=people["lead"], title="Slow logins")
    client = Client()
    client.force_login(people[who])
    action = f"/incidents/{incident.reference}/restriction/"
    headers = {"HX-Request": "true", "HX-Target": "incident-body"} if htmx else {}
    for button, message, restricted in [
        ("Restrict", "Restricted to its participants and the security group.", True),
        ("Open to every reader", "Opened to every reader.", False),
    ]:
        page = client.get(incident.get_absolute_url()).content.decode()
        assert f">{button}</button>" in page
        response = client.post(action, _rendered_form(page, action), headers=headers, follow=not htmx)
        assert response.status_code == 200
        html = response.content.decode()
        assert message in html
        assert ("<strong>Restricted</strong>" in html) == restricted
        incident.refresh_from_db()
        assert incident.restricted == restricted
        event = incident.timeline.filter(kind=EventKind.RESTRICTION_CHANGED).latest("id")
        assert (event.actor, event.data["restricted"]) == (people[who], restricted)
    assert selectors.visible_incidents(people["outsider"]).filter(pk=incident.pk).exists()


def test_the_security_groups_control_is_not_served_to_others_from_the_cached_page(people, restricted):
    """The page is cached per variant: a security member's page (with the control) never reaches a
    responder, nor a responder's (without it) a security member."""
    security, responder = Client(), Client()
    security.force_login(people["security"])
    responder.force_login(people["responder"])
    for _ in range(2):
        assert ">Open to every reader</button>" in security.get(restricted.get_absolute_url()).content.decode()
        assert "/restriction/" not in responder.get(restricted.get_absolute_url()).content.decode()
