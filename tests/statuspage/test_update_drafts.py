"""Draft and approve (issue 17): when a severity's policy wants public updates approved, a responder's
public update is a draft; only the incident lead or the comms lead approves it (editing it first if
they like) or discards it. Nothing of a draft reaches the status page, its JSON and feed, subscriber
mail or webhooks until it is approved; the timeline says who drafted, who approved, who discarded."""

import json
import re
from html import unescape

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.test import Client

from incidents import errors, services
from incidents.models import DraftState, EventKind, SeverityPolicy, UpdateDraft, UpdateVisibility
from integrations.models import WebhookEvent, WebhookSubscription
from notifications.models import Channel, Delivery
from statuspage import services as statuspage_services
from tests import factories

pytestmark = pytest.mark.django_db

DRAFT = "DRAFT-TEXT-5b2c: card payments fail for some customers."
PUBLIC_URLS = ["/status/", "/status.json", "/status/feed.atom"]
HTMX = {"HX-Request": "true", "HX-Target": "incident-body"}


@pytest.fixture
def approval(db):
    SeverityPolicy.objects.filter(key="SEV2").update(public_updates_need_approval=True)


@pytest.fixture
def people(db):
    names = {"lead": ("Lena", "Lead"), "comms": ("Chris", "Comms"), "oncall": ("Omar", "Oncall")}
    return {
        username: factories.UserFactory(role="responder", username=username, first_name=first, last_name=last)
        for username, (first, last) in names.items()
    }


@pytest.fixture
def incident(people, catalog, components, approval):
    return factories.declare_incident(
        severity="SEV2",
        declared_by=people["lead"],
        comms_lead=people["comms"],
        responders=[people["oncall"]],
        title="Internal: PSP-7 token expired",
        public_title="Card payments fail at checkout",
        affected_services=[catalog["checkout"]],
    )


def public_texts(client: Client) -> dict[str, str]:
    texts = {url: client.get(url).content.decode() for url in PUBLIC_URLS}
    texts["/status/#fragment"] = client.get("/status/", headers={"HX-Request": "true"}).content.decode()
    return texts


def subscriber_mails(address: str) -> list[str]:
    deliveries = Delivery.objects.filter(channel=Channel.EMAIL, target=address).select_related("message")
    return [d.message.body_text for d in deliveries if d.message.subject.startswith("[Status] ")]


def test_a_draft_reaches_nothing_public_until_the_comms_lead_approves_it(
    client, people, incident, django_capture_on_commit_callbacks
):
    subscriber = statuspage_services.subscriber_subscribe(email="reader@example.com")
    statuspage_services.subscriber_confirm(token=subscriber.confirm_token)
    hook = WebhookSubscription.objects.create(
        team="Payments", url="https://hooks.example.com/incidents", secret="s3cret", events=[WebhookEvent.UPDATE_POSTED]
    )
    with django_capture_on_commit_callbacks(execute=True):
        draft = services.update_draft_create(incident=incident, author=people["oncall"], progress=DRAFT)

    for url, text in public_texts(client).items():
        assert "DRAFT-TEXT-5b2c" not in text, url
        assert "Card payments fail at checkout" not in text, url  # not even published yet
    assert json.loads(client.get("/status.json").content)["incidents"] == []
    assert subscriber_mails("reader@example.com") == []
    assert hook.deliveries.count() == 0
    drafted = incident.timeline.get(kind=EventKind.UPDATE_DRAFTED)
    assert (drafted.actor, drafted.text, drafted.body) == (
        people["oncall"],
        "Drafted a public update for approval",
        DRAFT,
    )
    # The comms lead is asked, in their inbox, to approve it.
    ask = Delivery.objects.get(channel=Channel.IN_APP, recipient=people["comms"], message__subject__contains="approval")
    assert "waits for your approval" in ask.message.subject and DRAFT in ask.message.body_text

    with django_capture_on_commit_callbacks(execute=True):
        update = services.update_draft_approve(draft=draft, actor=people["comms"])

    draft.refresh_from_db()
    assert (draft.state, draft.decided_by, draft.status_update) == (DraftState.PUBLISHED, people["comms"], update)
    assert update.visibility == UpdateVisibility.PUBLIC and update.progress == DRAFT
    for url, text in public_texts(client).items():
        assert "DRAFT-TEXT-5b2c" in text, url
        assert "PSP-7" not in text, url
    [shown] = json.loads(client.get("/status.json").content)["incidents"]
    assert shown["title"] == "Card payments fail at checkout"
    assert [u["text"] for u in shown["updates"]] == [DRAFT]
    assert any(DRAFT in body for body in subscriber_mails("reader@example.com"))
    assert list(hook.deliveries.values_list("event", flat=True)) == [WebhookEvent.UPDATE_POSTED]
    told = Delivery.objects.get(
        channel=Channel.IN_APP, recipient=people["oncall"], message__subject__contains="your public update"
    )
    assert told.message.subject.endswith("your public update was approved and published")
    event = incident.timeline.get(kind=EventKind.STATUS_UPDATE)
    assert event.actor == people["comms"]
    assert event.text == "Public status update drafted by Omar Oncall, approved"
    assert (event.data["drafted_by"], event.data["approved_by"], event.data["edited"]) == (
        people["oncall"].pk,
        people["comms"].pk,
        False,
    )


def test_the_approver_may_edit_the_text_and_only_the_edited_words_go_public(client, people, incident):
    draft = services.update_draft_create(incident=incident, author=people["oncall"], progress=DRAFT, eta="Soon")
    services.update_draft_approve(
        draft=draft, actor=people["lead"], progress="Some card payments fail; we are on it.", eta="Within the hour"
    )
    text = client.get("/status/").content.decode()
    assert "Some card payments fail; we are on it." in text and "Within the hour" in text
    assert "DRAFT-TEXT-5b2c" not in text
    event = incident.timeline.get(kind=EventKind.STATUS_UPDATE)
    assert event.text == "Public status update drafted by Omar Oncall, approved with edits"
    assert event.actor == people["lead"]


def test_only_the_lead_or_comms_lead_approves_and_a_responder_cannot_post_public_around_it(people, incident):
    with pytest.raises(ValidationError) as refused:
        services.incident_update_post(
            incident=incident, author=people["oncall"], progress=DRAFT, visibility=UpdateVisibility.PUBLIC
        )
    assert refused.value.message_dict["visibility"] == [errors.PUBLIC_UPDATE_NEEDS_APPROVAL.format(severity="SEV2")]
    # Internal updates need nobody's approval.
    services.incident_update_post(incident=incident, author=people["oncall"], progress="Looking at the PSP")
    draft = services.update_draft_create(incident=incident, author=people["oncall"], progress=DRAFT)
    with pytest.raises(ValidationError) as refused:
        services.update_draft_approve(draft=draft, actor=people["oncall"])
    assert refused.value.messages == [errors.APPROVE_LEAD_ONLY]
    assert not incident.status_updates.filter(visibility=UpdateVisibility.PUBLIC).exists()


def test_discarding_is_on_the_timeline_and_a_decided_draft_cannot_be_approved(client, people, incident):
    draft = services.update_draft_create(incident=incident, author=people["oncall"], progress=DRAFT)
    with pytest.raises(ValidationError) as refused:
        services.update_draft_discard(draft=draft, actor=factories.UserFactory(role="responder"))
    assert refused.value.messages == [errors.DISCARD_NOT_PERMITTED]
    services.update_draft_discard(draft=draft, actor=people["comms"])
    told = Delivery.objects.get(
        channel=Channel.IN_APP, recipient=people["oncall"], message__subject__contains="your public update"
    )
    assert told.message.subject.endswith("your public update was discarded")
    event = incident.timeline.get(kind=EventKind.UPDATE_DRAFT_DISCARDED)
    assert (event.actor, event.text) == (people["comms"], "Discarded Omar Oncall's draft of a public update")
    with pytest.raises(ValidationError) as refused:
        services.update_draft_approve(draft=draft, actor=people["lead"])
    assert refused.value.messages == [errors.DRAFT_ALREADY_DECIDED.format(state="discarded", who="Chris Comms")]
    assert "DRAFT-TEXT-5b2c" not in client.get("/status/").content.decode()


def test_without_a_comms_lead_the_lead_is_asked_and_approves(people, catalog, components, approval):
    incident = factories.declare_incident(
        severity="SEV2", declared_by=people["lead"], responders=[people["oncall"]], affected_services=[catalog["api"]]
    )
    draft = services.update_draft_create(incident=incident, author=people["oncall"], progress=DRAFT)
    assert Delivery.objects.filter(channel=Channel.IN_APP, recipient=people["lead"], message__body_text__contains=DRAFT)
    services.update_draft_approve(draft=draft, actor=people["lead"])
    incident.refresh_from_db()
    assert incident.is_published


def test_without_the_policy_any_responder_posts_public_updates_at_once(people, catalog, components):
    incident = factories.declare_incident(severity="SEV2", declared_by=people["lead"], published=True)
    services.incident_update_post(
        incident=incident, author=people["oncall"], progress=DRAFT, visibility=UpdateVisibility.PUBLIC
    )
    assert not UpdateDraft.objects.exists()
    assert incident.status_updates.get().visibility == UpdateVisibility.PUBLIC


# The incident page: forms that post and redirect, htmx makes them fast.


@pytest.mark.parametrize("htmx", [False, True])
def test_a_responder_drafts_from_the_update_form_and_sees_it_wait(people, incident, htmx):
    client = Client()
    client.force_login(people["oncall"])
    page = client.get(incident.get_absolute_url()).content.decode()
    assert "a public one is saved as a draft" in page
    response = client.post(
        f"/incidents/{incident.reference}/updates/",
        {"status": "investigating", "progress": DRAFT, "visibility": "public"},
        headers=HTMX if htmx else {},
        follow=not htmx,
    )
    assert response.status_code == 200
    html = unescape(response.content.decode())
    assert "Drafted: the incident lead or comms lead publishes it once they approve it." in html
    assert "Public update waiting for approval" in html and DRAFT in html
    assert "Approve and publish" not in html and "/discard/" not in html
    assert UpdateDraft.objects.get().drafted_by == people["oncall"]
    assert not incident.status_updates.exists()
    # The reader's choice stays for their next update.
    assert re.search(r'name="visibility" value="public"[^>]*checked', response.content.decode())


@pytest.mark.parametrize("htmx", [False, True])
def test_the_comms_lead_approves_an_edited_draft_from_the_page(client, people, incident, htmx):
    draft = services.update_draft_create(incident=incident, author=people["oncall"], progress=DRAFT)
    comms = Client()
    comms.force_login(people["comms"])
    page = comms.get(incident.get_absolute_url()).content.decode()
    assert "Public update waiting for your approval" in page
    assert f'action="/incidents/{incident.reference}/drafts/{draft.pk}/approve/"' in page
    assert f'action="/incidents/{incident.reference}/drafts/{draft.pk}/discard/"' in page
    assert f'id="draft-{draft.pk}-progress"' in page  # its own ids beside the update form's
    response = comms.post(
        f"/incidents/{incident.reference}/drafts/{draft.pk}/approve/",
        {"status": "identified", "progress": "Edited: some card payments fail.", "next_steps": "", "eta": ""},
        headers=HTMX if htmx else {},
        follow=not htmx,
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Approved and published: the update is on the status page." in html
    assert "waiting for your approval" not in html
    assert "approved with edits" in html  # on the timeline
    incident.refresh_from_db()
    assert incident.status == "identified"
    assert "Edited: some card payments fail." in client.get("/status/").content.decode()


def test_an_empty_approval_comes_back_with_the_reason_and_nothing_public(client, people, incident):
    draft = services.update_draft_create(incident=incident, author=people["oncall"], progress=DRAFT)
    comms = Client()
    comms.force_login(people["comms"])
    response = comms.post(
        f"/incidents/{incident.reference}/drafts/{draft.pk}/approve/", {"status": "investigating", "progress": " "}
    )
    assert response.status_code == 422
    assert errors.UPDATE_PROGRESS_REQUIRED in unescape(response.content.decode())
    draft.refresh_from_db()
    assert draft.state == DraftState.PENDING
    assert json.loads(client.get("/status.json").content)["incidents"] == []


@pytest.mark.parametrize("htmx", [False, True])
def test_the_lead_discards_a_draft_from_the_page(people, incident, htmx):
    draft = services.update_draft_create(incident=incident, author=people["oncall"], progress=DRAFT)
    lead = Client()
    lead.force_login(people["lead"])
    response = lead.post(
        f"/incidents/{incident.reference}/drafts/{draft.pk}/discard/",
        headers=HTMX if htmx else {},
        follow=not htmx,
    )
    assert response.status_code == 200
    html = unescape(response.content.decode())
    assert "Draft discarded. Nothing of it was public." in html
    assert "Discarded Omar Oncall's draft of a public update" in html


def test_a_responder_cannot_approve_through_the_url_nor_reach_another_incidents_draft(people, incident):
    draft = services.update_draft_create(incident=incident, author=people["oncall"], progress=DRAFT)
    oncall = Client()
    oncall.force_login(people["oncall"])
    response = oncall.post(
        f"/incidents/{incident.reference}/drafts/{draft.pk}/approve/", {"status": "investigating", "progress": "x"}
    )
    assert response.status_code == 422
    assert errors.APPROVE_LEAD_ONLY in unescape(response.content.decode())
    other = factories.declare_incident(severity="SEV2", declared_by=people["comms"])
    comms = Client()
    comms.force_login(people["comms"])
    response = comms.post(f"/incidents/{other.reference}/drafts/{draft.pk}/discard/")
    assert response.status_code == 404
    viewer = Client()
    viewer.force_login(factories.UserFactory(role="viewer"))
    assert viewer.post(f"/incidents/{incident.reference}/drafts/{draft.pk}/discard/").status_code == 403
    draft.refresh_from_db()
    assert draft.state == DraftState.PENDING


def test_a_draft_shows_on_the_approvers_open_page_through_its_live_header(people, incident):
    """The live header brings the page's state every poll; a new draft changes it, so the
    comms lead's open page redraws its body (static/js/app.js)."""
    comms = Client()
    comms.force_login(people["comms"])
    live = {"HX-Request": "true", "HX-Target": "incident-live"}
    before = re.search(r'data-state="(\w+)"', comms.get(incident.get_absolute_url(), headers=live).content.decode())
    services.update_draft_create(incident=incident, author=people["oncall"], progress=DRAFT)
    after = re.search(r'data-state="(\w+)"', comms.get(incident.get_absolute_url(), headers=live).content.decode())
    assert before.group(1) != after.group(1)


# The API: no way around approval.


def test_the_api_makes_a_public_update_a_draft_too(client, people, incident, django_capture_on_commit_callbacks):
    token = services.api_token_create(user=people["oncall"], name="bot")[1]
    response = client.post(
        f"/api/v1/incidents/{incident.reference}/updates/",
        {"progress": DRAFT, "visibility": "public"},
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 202
    body = response.json()
    assert (body["state"], body["drafted_by"], body["progress"]) == ("pending", "oncall", DRAFT)
    assert not incident.status_updates.exists()
    assert "DRAFT-TEXT-5b2c" not in client.get("/status.json").content.decode()
    lead_token = services.api_token_create(user=people["comms"], name="bot")[1]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/api/v1/incidents/{incident.reference}/updates/",
            {"progress": "Approved words.", "visibility": "public"},
            content_type="application/json",
            headers={"Authorization": f"Bearer {lead_token}"},
        )
    assert response.status_code == 201
    assert "Approved words." in client.get("/status.json").content.decode()


def test_the_api_lists_approves_and_discards_drafts(client, people, incident, django_capture_on_commit_callbacks):
    def call(user, method: str, path: str, body: dict | None = None):
        token = services.api_token_create(user=user, name="bot")[1]
        return getattr(client, method)(
            f"/api/v1/incidents/{incident.reference}/{path}",
            body or {},
            content_type="application/json",
            headers={"Authorization": f"Bearer {token}"},
        )

    first = services.update_draft_create(incident=incident, author=people["oncall"], progress=DRAFT)
    second = services.update_draft_create(incident=incident, author=people["oncall"], progress="Second draft.")
    listed = call(people["oncall"], "get", "drafts/").json()
    assert (listed["count"], [d["id"] for d in listed["results"]]) == (2, [first.pk, second.pk])

    refused = call(people["oncall"], "post", f"drafts/{first.pk}/approve/")
    assert (refused.status_code, refused.json()["errors"]["__all__"]) == (400, [errors.APPROVE_LEAD_ONLY])
    viewer = factories.UserFactory(role="viewer")
    assert call(viewer, "post", f"drafts/{first.pk}/discard/").status_code == 403
    assert call(people["comms"], "post", "drafts/999999/approve/").status_code == 404

    with django_capture_on_commit_callbacks(execute=True):
        approved = call(people["comms"], "post", f"drafts/{first.pk}/approve/", {"progress": "Edited by comms."})
    assert approved.status_code == 201
    assert (approved.json()["visibility"], approved.json()["progress"]) == ("public", "Edited by comms.")
    assert "Edited by comms." in client.get("/status.json").content.decode()
    discarded = call(people["lead"], "post", f"drafts/{second.pk}/discard/")
    assert (discarded.status_code, discarded.json()["state"]) == (200, "discarded")
    again = call(people["lead"], "post", f"drafts/{second.pk}/approve/")
    assert again.status_code == 400
    assert call(people["oncall"], "get", "drafts/").json() == {"count": 0, "results": []}


def test_security_group_is_unrelated_to_approval(people, incident):
    """Seeing every restricted incident is not a say over what goes public."""
    security = factories.UserFactory(role="responder")
    security.groups.add(Group.objects.get_or_create(name="security")[0])
    draft = services.update_draft_create(incident=incident, author=people["oncall"], progress=DRAFT)
    with pytest.raises(ValidationError):
        services.update_draft_approve(draft=draft, actor=security)


@pytest.mark.parametrize("who", ["comms", "oncall"])
def test_the_incident_page_costs_the_same_queries_however_many_drafts_wait(
    people, incident, who, django_assert_max_num_queries
):
    client = Client()
    client.force_login(people[who])
    services.update_draft_create(incident=incident, author=people["oncall"], progress=DRAFT)
    with django_assert_max_num_queries(40) as small:
        client.get(incident.get_absolute_url())
    for n in range(5):
        drafter = factories.UserFactory(role="responder")
        services.update_draft_create(incident=incident, author=drafter, progress=f"{DRAFT} {n}")
    with django_assert_max_num_queries(len(small.captured_queries)):
        page = client.get(incident.get_absolute_url()).content.decode()
    assert page.count('class="draft"') == 6
