"""Example text looks like an example: every placeholder on the declare form and the incident
page says "e.g. …", so nobody takes it for text already filled in."""

import re

from tests.factories import declare_incident


def test_every_placeholder_says_it_is_an_example(responder_client):
    incident = declare_incident(severity="SEV2")
    pages = [
        responder_client.get("/incidents/new/").content.decode(),
        responder_client.get(incident.get_absolute_url()).content.decode(),
        responder_client.get(f"{incident.get_absolute_url()}?edit=snooze").content.decode(),
        responder_client.get(f"{incident.get_absolute_url()}?edit=impact").content.decode(),
    ]
    placeholders = [text for page in pages for text in re.findall(r'placeholder="([^"]*)"', page)]
    assert len(placeholders) >= 8
    assert [text for text in placeholders if "e.g. " not in text] == []
