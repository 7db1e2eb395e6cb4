"""Restricted incidents (issue 17): for anyone who is not a participant or in the security group, a
restricted incident does not exist. Unique strings are planted in everything a restricted incident
holds; every URL of the site (the URL conf enumerated with real ids, then every link followed,
plain and as htmx fragments), the JSON API and the status page, feed and JSON are fetched as a
responder who is not a participant and as a viewer: none holds a planted string. The same crawl
as a participant finds every one of them, so the crawl really reaches them."""

import re
from collections import deque

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from incidents import services
from incidents.models import UpdateVisibility
from postmortems import services as postmortem_services
from runbooks import services as runbook_services
from runbooks.models import StepOutcome
from tests.factories import UserFactory, declare_incident
from tests.runbooks.conftest import make_runbook

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

PLANTED = {
    "title": "PLANT-TITLE-8c1e",
    "summary": "PLANT-SUMMARY-27ad",
    "update": "PLANT-UPDATE-90b4",
    "note": "PLANT-NOTE-f00d",
    "runbook note": "PLANT-RUNBOOK-NOTE-5e5e",
    "postmortem": "PLANT-POSTMORTEM-c4fe",
    "action item": "PLANT-ACTION-ITEM-b17e",
    "draft public update": "PLANT-DRAFT-d4a1",
}
# Never fetched: logging out would end the crawl; the rest are writes or need no incident.
SKIP = ("/accounts/logout/", "/admin/")
MAX_PAGES = 2000


@pytest.fixture
def world():
    lead = UserFactory(role="responder", username="lead")
    helper = UserFactory(role="responder", username="helper")
    open_incident = declare_incident(declared_by=lead, title="An open incident everyone sees")
    incident = declare_incident(
        declared_by=lead,
        title=PLANTED["title"],
        summary=PLANTED["summary"],
        responders=[helper],
        security_concern=True,  # restricted by default
    )
    assert incident.restricted
    services.incident_update_post(incident=incident, author=lead, progress=PLANTED["update"])
    services.incident_note_add(incident=incident, author=lead, text=PLANTED["note"])
    draft = services.update_draft_create(incident=incident, author=helper, progress=PLANTED["draft public update"])
    run = runbook_services.runbook_attach(runbook=make_runbook(steps=2), incident=incident, actor=lead)
    runbook_services.run_step_record(
        run_step=run.steps.order_by("position").first(),
        outcome=StepOutcome.DONE,
        actor=lead,
        note=PLANTED["runbook note"],
    )
    postmortem = postmortem_services.postmortem_start(incident=incident, actor=lead)
    postmortem_services.postmortem_sections_save(
        postmortem=postmortem, actor=lead, base_version=postmortem.version, sections={"summary": PLANTED["postmortem"]}
    )
    outsider = UserFactory(role="responder", username="outsider")
    item = postmortem_services.action_item_add(
        postmortem=postmortem, actor=lead, title=PLANTED["action item"], owner=outsider
    )
    viewer = UserFactory(role="viewer", username="viewer")
    # Made now: making a token is a write, and a write between two crawls would empty the page
    # cache the second crawl must not be served from.
    tokens = {
        user.pk: services.api_token_create(user=user, name="crawl")[1] for user in (lead, helper, outsider, viewer)
    }
    return {
        "tokens": tokens,
        "lead": lead,
        "helper": helper,
        "outsider": outsider,
        "viewer": viewer,
        "incident": incident,
        "open": open_incident,
        "ids": {run.pk, item.pk, postmortem.pk, draft.pk, *run.steps.values_list("pk", flat=True)},
        "slug": run.runbook.slug,
    }


def _routes(resolver: URLResolver, prefix: str = "") -> list[str]:
    routes = []
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern).lstrip("^").rstrip("$")
        if isinstance(pattern, URLResolver):
            routes += _routes(pattern, route)
        elif isinstance(pattern, URLPattern):
            routes.append(route)
    return routes


def _urls(world) -> set[str]:
    """Every route of the URL conf with each parameter filled with the restricted incident's ids
    (and the open incident's reference, so its pages are reached too)."""
    values = {
        "reference": [world["incident"].reference, world["open"].reference],
        "slug": [world["slug"]],
    }
    numbers = [str(pk) for pk in sorted(world["ids"])] + ["1"]
    urls = set()
    for route in _routes(get_resolver()):
        if ("/" + route).startswith(SKIP):
            continue
        candidates = ["/" + route]
        for name in re.findall(r"<(?:\w+:)?(\w+)>", route):
            choices = values.get(name, numbers if name not in ("token", "what") else ["x"])
            candidates = [
                re.sub(rf"<(?:\w+:)?{name}>", choice, candidate, count=1)
                for candidate in candidates
                for choice in choices
            ]
        urls.update(candidates)
    return urls


def _crawl(client: Client, start: set[str], headers: dict) -> dict[str, str]:
    """GET every start URL, then every same-site link found (href and hx-get), plain and htmx."""
    seen: dict[str, str] = {}
    queue = deque(sorted(start))
    while queue and len(seen) < MAX_PAGES:
        url = queue.popleft()
        if url in seen or url.startswith(SKIP):
            continue
        for extra in ({}, {"HX-Request": "true"}):
            response = client.get(url, headers={**headers, **extra})
            body = response.content.decode(errors="replace") if response.status_code < 500 else ""
            assert response.status_code < 500, url
            seen[url + (" [htmx]" if extra else "")] = body
            for link in re.findall(r'(?:href|hx-get)="(/[^"#]*)', body):
                link = link.replace("&amp;", "&")
                if link not in seen and not link.startswith(SKIP) and not link.startswith("/static/"):
                    queue.append(link)
    assert not queue, "the crawl stopped before it had fetched every page"
    return seen


def _everything(world, user) -> dict[str, str]:
    client = Client()
    client.force_login(user)
    pages = _crawl(client, _urls(world) | {"/", "/status/", "/status.json", "/status/feed.atom"}, {})
    token = world["tokens"][user.pk]
    api = Client()
    api_urls = {url for url in _urls(world) if url.startswith("/api/v1/")} | {
        "/api/v1/incidents/?limit=100",
        "/api/v1/incidents/?status=active",
    }
    pages.update(
        {f"API {url}": body for url, body in _crawl(api, api_urls, {"Authorization": f"Bearer {token}"}).items()}
    )
    return pages


@pytest.mark.parametrize("who", ["outsider", "viewer"])
def test_a_restricted_incident_leaks_nowhere(world, who):
    # A responder on the incident reads first: the cached pages they were served (the same role,
    # the same page variant) must not reach the others.
    _everything(world, world["helper"])
    pages = _everything(world, world[who])
    assert len(pages) > 40  # the crawl reached the site, not just a login page
    assert any("An open incident everyone sees" in body for body in pages.values())
    for url, body in pages.items():
        for what, planted in PLANTED.items():
            assert planted not in body, (who, what, url)
        assert world["incident"].reference not in body, (who, url)


@pytest.mark.parametrize("who", ["lead", "helper"])
def test_a_participant_finds_everything_the_crawl_looks_for(world, who):
    pages = _everything(world, world[who])
    found = {what for what, planted in PLANTED.items() if any(planted in body for body in pages.values())}
    assert found == set(PLANTED)


def test_the_status_page_shows_a_restricted_incident_only_once_published_and_only_its_public_words(client, world):
    incident = world["incident"]
    services.incident_update_post(
        incident=incident, author=world["lead"], progress="We are investigating.", visibility=UpdateVisibility.PUBLIC
    )
    for url in ("/status/", "/status.json", "/status/feed.atom"):
        body = client.get(url).content.decode()
        for planted in PLANTED.values():
            assert planted not in body, url
