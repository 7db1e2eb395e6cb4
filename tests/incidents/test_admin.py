"""The severity policy edited in the admin, where the README sends admins, keeps the policy
service's rules: values are checked and active incidents are re-planned."""

from datetime import timedelta

import pytest

from incidents import errors, services
from incidents.models import SeverityPolicy
from incidents.policy import POLICY_MINUTES_MAX
from tests.factories import declare_incident

pytestmark = pytest.mark.django_db


def _change_form(admin_client, policy: SeverityPolicy, **changes) -> dict:
    """What the admin's change form posts when only `changes` are edited."""
    form = admin_client.get(f"/admin/incidents/severitypolicy/{policy.pk}/change/").context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        if isinstance(value, list):
            data[name] = [getattr(item, "pk", item) for item in value]
        elif isinstance(value, bool):
            if value:
                data[name] = "on"
        elif value is not None:
            data[name] = value
    return {**data, **changes}


def test_a_new_cadence_in_the_admin_replans_the_active_incidents(admin_client):
    incident = declare_incident(severity="SEV2")
    resolved = declare_incident(severity="SEV2")
    services.incident_status_change(incident=resolved, status="resolved", actor=resolved.lead)
    sev2 = SeverityPolicy.objects.get(key="SEV2")
    assert sev2.update_cadence_minutes != 7

    response = admin_client.post(
        f"/admin/incidents/severitypolicy/{sev2.pk}/change/", _change_form(admin_client, sev2, update_cadence_minutes=7)
    )

    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.next_update_due_at == incident.cadence_anchor_at + timedelta(minutes=7)
    resolved.refresh_from_db()
    assert resolved.next_update_due_at is None


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"update_cadence_minutes": POLICY_MINUTES_MAX + 1}, "update_cadence_minutes", errors.CADENCE_OUT_OF_RANGE),
        ({"escalate_responders_after_percent": 300}, "escalate_responders_after_percent", errors.LADDER_OUT_OF_ORDER),
        ({"resolve_target_minutes": POLICY_MINUTES_MAX + 1}, "resolve_target_minutes", errors.TARGET_OUT_OF_RANGE),
    ],
)
def test_values_the_policy_service_refuses_show_as_form_errors_and_change_nothing(admin_client, change, field, message):
    incident = declare_incident(severity="SEV2")
    sev2 = SeverityPolicy.objects.get(key="SEV2")
    before = {name: getattr(sev2, name) for name in change}

    response = admin_client.post(
        f"/admin/incidents/severitypolicy/{sev2.pk}/change/", _change_form(admin_client, sev2, **change)
    )

    assert response.status_code == 200
    expected = message.format(high=POLICY_MINUTES_MAX) if "{high}" in message else message
    assert expected in response.context["adminform"].form.errors[field]
    sev2.refresh_from_db()
    assert {name: getattr(sev2, name) for name in change} == before
    due = incident.next_update_due_at
    incident.refresh_from_db()
    assert incident.next_update_due_at == due


def test_the_cadence_edited_in_the_admin_list_replans_too(admin_client):
    incident = declare_incident(severity="SEV3")
    policies = list(SeverityPolicy.objects.order_by("rank"))
    data = {
        "form-TOTAL_FORMS": str(len(policies)),
        "form-INITIAL_FORMS": str(len(policies)),
        "_save": "Save",
    }
    for index, policy in enumerate(policies):
        data[f"form-{index}-id"] = policy.pk
        minutes = 9 if policy.key == "SEV3" else policy.update_cadence_minutes
        data[f"form-{index}-update_cadence_minutes"] = "" if minutes is None else minutes
        if policy.show_on_status_page:
            data[f"form-{index}-show_on_status_page"] = "on"

    response = admin_client.post("/admin/incidents/severitypolicy/", data)

    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.next_update_due_at == incident.cadence_anchor_at + timedelta(minutes=9)


def test_key_and_rank_cannot_be_changed_in_the_admin(admin_client):
    sev2 = SeverityPolicy.objects.get(key="SEV2")
    response = admin_client.post(
        f"/admin/incidents/severitypolicy/{sev2.pk}/change/",
        {**_change_form(admin_client, sev2), "key": "SEV9", "rank": 99},
    )
    assert response.status_code == 302
    sev2.refresh_from_db()
    assert (sev2.key, sev2.rank) == ("SEV2", 2)


def test_the_public_voice_switches_are_edited_in_the_admin(admin_client):
    """Approval of public updates and automatic publishing are policy: saved by the admin's form."""
    sev1 = SeverityPolicy.objects.get(key="SEV1")
    assert not sev1.public_updates_need_approval
    response = admin_client.post(
        f"/admin/incidents/severitypolicy/{sev1.pk}/change/",
        _change_form(admin_client, sev1, public_updates_need_approval="on", publish_automatically="on"),
    )
    assert response.status_code == 302
    sev1.refresh_from_db()
    assert sev1.public_updates_need_approval and sev1.publish_automatically


def test_mitigate_and_resolve_targets_are_edited_in_the_admin_and_cleared_again(admin_client):
    sev2 = SeverityPolicy.objects.get(key="SEV2")
    assert (sev2.mitigate_target_minutes, sev2.resolve_target_minutes) == (None, None)
    url = f"/admin/incidents/severitypolicy/{sev2.pk}/change/"
    response = admin_client.post(
        url, _change_form(admin_client, sev2, mitigate_target_minutes=60, resolve_target_minutes=240)
    )
    assert response.status_code == 302
    sev2.refresh_from_db()
    assert (sev2.mitigate_target_minutes, sev2.resolve_target_minutes) == (60, 240)
    response = admin_client.post(url, _change_form(admin_client, sev2, resolve_target_minutes=""))
    assert response.status_code == 302
    sev2.refresh_from_db()
    assert (sev2.mitigate_target_minutes, sev2.resolve_target_minutes) == (60, None)
