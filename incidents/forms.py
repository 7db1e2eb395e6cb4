import copy
import json
from collections.abc import Iterable
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone

from core.forms import Form
from core.permissions import responders_q
from incidents import errors
from incidents.models import Incident, IncidentStatus, Service, SeverityPolicy, UpdateVisibility
from incidents.selectors import comparable
from incidents.services import MILESTONES

User = get_user_model()


class StartsFromIncident(Form):
    """A form whose fields start from the incident. `seen` carries what they showed
    (selectors.incident_form_presets, as JSON), so a change someone else made meanwhile is caught
    instead of silently overwritten. Without it (a script) nothing is checked."""

    seen = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, incident: Incident | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.incident = incident

    def clean_seen(self) -> dict[str, Any] | None:
        raw = self.cleaned_data["seen"]
        if not raw:
            return None
        try:
            seen = json.loads(raw)
        except ValueError:
            seen = None
        # Unreadable, it matches no incident: the form comes back to be checked and sent again.
        return seen if isinstance(seen, dict) else {}

    def restate(self, *, seen: dict[str, Any], now: dict[str, Any]) -> None:
        """Show the form again against the incident as it is `now`: a field the reader left as
        the page showed it takes the current value, one they changed keeps their input, and sent
        again the form applies."""
        data = self.data.copy()
        for name, shown in seen.items():
            field = self.fields.get(name)
            if field is None or name not in now or comparable(self.cleaned_data.get(name)) != shown:
                continue
            value = now[name]
            if isinstance(field, forms.ModelMultipleChoiceField):
                data.setlist(name, [str(item) for item in value])
            elif isinstance(field, forms.BooleanField):
                if value:
                    data[name] = "on"
                else:
                    data.pop(name, None)
            else:
                data[name] = "" if value is None else str(value)
        data["seen"] = presets_json(now)
        self.data = data


def presets_json(presets: dict[str, Any]) -> str:
    return json.dumps(presets, sort_keys=True, separators=(",", ":"))


class LocalDateTimeInput(forms.DateTimeInput):
    """A browser date-time picker; the value is read in the viewer's time zone."""

    input_type = "datetime-local"

    def __init__(self, attrs: dict | None = None) -> None:
        super().__init__(attrs=attrs, format="%Y-%m-%dT%H:%M")


class PersonChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, user) -> str:
        return user.get_full_name() or user.get_username()


class PeopleChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, user) -> str:
        return user.get_full_name() or user.get_username()


def people(*, keeping: Iterable[int] = ()):
    """Who a role can go to: active users who may respond (not read-only viewers, not the Alerts
    account), and whoever in `keeping` holds one already, so a form can show and keep them."""
    return (
        User.objects.filter(Q(is_active=True) & responders_q() | Q(pk__in=list(keeping)))
        .distinct()
        .order_by("first_name", "last_name", "username")
    )


class SeverityChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, policy: SeverityPolicy) -> str:
        return f"{policy.key} · {policy.name}"


class ImpactFields(Form):
    affected_users_count = forms.IntegerField(
        required=False,
        min_value=0,
        label="Affected users",
        widget=forms.NumberInput(attrs={"placeholder": "e.g. 1000"}),
    )
    affected_users_percent = forms.DecimalField(
        required=False,
        min_value=0,
        max_value=100,
        max_digits=5,
        decimal_places=2,
        label="Affected users (%)",
        error_messages={"min_value": errors.PERCENT_OUT_OF_RANGE, "max_value": errors.PERCENT_OUT_OF_RANGE},
        widget=forms.NumberInput(attrs={"placeholder": "e.g. 10", "step": "any"}),
    )
    affected_services = forms.ModelMultipleChoiceField(
        queryset=Service.objects.order_by("name"), required=False, widget=forms.CheckboxSelectMultiple
    )
    business_impact = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "e.g. Cannot process orders"}),
    )
    data_integrity_concern = forms.BooleanField(required=False, label="Data integrity concern")
    security_concern = forms.BooleanField(required=False, label="Security concern")


class DeclareForm(ImpactFields):
    title = forms.CharField(
        max_length=200,
        error_messages={"required": errors.TITLE_REQUIRED},
        widget=forms.TextInput(attrs={"placeholder": "e.g. Checkout API returns 500s"}),
    )
    severity = SeverityChoiceField(
        queryset=SeverityPolicy.objects.order_by("rank"), empty_label=None, widget=forms.RadioSelect
    )
    summary = forms.CharField(
        required=False,
        help_text="What is happening, in a sentence or two.",
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "e.g. Card payments fail with a 500 since 14:20"}),
    )
    detected_at = forms.DateTimeField(
        required=False,
        label="Detected at",
        help_text="Leave empty for now; set it if it started earlier.",
        widget=LocalDateTimeInput(),
    )
    lead = PersonChoiceField(queryset=people(), required=False, label="Incident lead", empty_label="Me")
    comms_lead = PersonChoiceField(queryset=people(), required=False, label="Comms lead", empty_label="Nobody yet")
    public_title = forms.CharField(
        required=False,
        max_length=200,
        label="Name on the status page",
        help_text="What the status page will call it; leave empty for a neutral title from the affected services.",
        widget=forms.TextInput(attrs={"placeholder": "e.g. Some payments are failing"}),
    )
    public_summary = forms.CharField(
        required=False,
        label="What customers are told",
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "e.g. Some customers cannot pay by card"}),
    )

    restricted = forms.BooleanField(
        required=False,
        label="Restricted",
        help_text="Only its participants and the security group will see it. "
        "An incident with a security concern is restricted anyway.",
    )

    field_order = ["title", "severity", "summary", "detected_at", "lead", "comms_lead"]

    @property
    def auto_publishing(self) -> list[SeverityPolicy]:
        """The severities whose incidents go on the status page as soon as they are declared."""
        policies = self.fields["severity"].queryset
        return [policy for policy in policies if policy.publish_automatically and policy.show_on_status_page]

    def clean_detected_at(self):
        # The service refuses it too; said here as well, the form's check-as-you-type shows it.
        detected_at = self.cleaned_data["detected_at"]
        if detected_at is not None and detected_at > timezone.now():
            raise forms.ValidationError(errors.DETECTED_IN_FUTURE)
        return detected_at

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["lead"].queryset = people()
        self.fields["comms_lead"].queryset = people()
        if not self.is_bound:
            # Only a fresh form takes focus; a refused one focuses its first error (static/js/app.js).
            self.fields["title"].widget.attrs["autofocus"] = True


class ImpactForm(StartsFromIncident, ImpactFields):
    title = forms.CharField(max_length=200, error_messages={"required": errors.TITLE_REQUIRED})
    summary = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    public_title = forms.CharField(
        required=False, max_length=200, label="Name on the status page", help_text="What the status page calls it."
    )
    public_summary = forms.CharField(
        required=False, label="What customers are told", widget=forms.Textarea(attrs={"rows": 2})
    )

    field_order = ["title", "summary", "public_title", "public_summary"]


class StatusUpdateForm(StartsFromIncident):
    status = forms.ChoiceField(choices=IncidentStatus.choices)
    progress = forms.CharField(
        label="What we know / progress",
        error_messages={"required": errors.UPDATE_PROGRESS_REQUIRED},
        widget=forms.Textarea(
            attrs={"rows": 3, "placeholder": "e.g. Identified high database query latency as likely cause"}
        ),
    )
    next_steps = forms.CharField(
        required=False,
        label="Next steps",
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "e.g. Analyzing slow query logs"}),
    )
    eta = forms.CharField(
        required=False,
        max_length=200,
        label="ETA",
        widget=forms.TextInput(attrs={"placeholder": "e.g. Resolution expected within 30 minutes"}),
    )
    visibility = forms.ChoiceField(
        choices=UpdateVisibility.choices, initial=UpdateVisibility.INTERNAL, widget=forms.RadioSelect
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        incident = self.incident
        if incident is not None and "visibility" not in self.initial:
            # Once an incident of a public severity is on the status page, its updates are
            # usually for the public too.
            public = incident.severity.show_on_status_page and incident.is_published
            self.initial["visibility"] = UpdateVisibility.PUBLIC if public else UpdateVisibility.INTERNAL


class UpdateDraftForm(Form):
    """A draft public update as its approver publishes it: the drafted text, which they may edit.
    Each draft's form has its own ids (`auto_id`), as several can wait on one page."""

    status = copy.deepcopy(StatusUpdateForm.base_fields["status"])
    progress = copy.deepcopy(StatusUpdateForm.base_fields["progress"])
    next_steps = copy.deepcopy(StatusUpdateForm.base_fields["next_steps"])
    eta = copy.deepcopy(StatusUpdateForm.base_fields["eta"])


class UpdateDraftDiscardForm(Form):
    """Discarding a draft takes nothing but the button."""


class SeverityForm(StartsFromIncident):
    severity = SeverityChoiceField(queryset=SeverityPolicy.objects.order_by("rank"), empty_label=None)
    reason = forms.CharField(
        required=False,
        max_length=500,
        widget=forms.TextInput(
            attrs={"placeholder": "Why? e.g. all regions now failing", "aria-label": "Reason for the severity change"}
        ),
    )


class StatusForm(StartsFromIncident):
    status = forms.ChoiceField(choices=IncidentStatus.choices)


class RolesForm(StartsFromIncident):
    lead = PersonChoiceField(
        queryset=people(), label="Incident lead", error_messages={"required": errors.LEAD_REQUIRED}
    )
    comms_lead = PersonChoiceField(queryset=people(), required=False, label="Comms lead", empty_label="Nobody")
    responders = PeopleChoiceField(queryset=people(), required=False, widget=forms.SelectMultiple(attrs={"size": 5}))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        incident = self.incident
        holders: dict[str, list[int]] = {"lead": [], "comms_lead": [], "responders": []}
        if incident is not None:
            # Each picker keeps whoever holds its own role, and only that role.
            holders = {
                "lead": [incident.lead_id],
                "comms_lead": [incident.comms_lead_id] if incident.comms_lead_id else [],
                "responders": [user.pk for user in incident.responders.all()],
            }
        for name, keeping in holders.items():
            self.fields[name].queryset = people(keeping=keeping)


class AcknowledgeForm(Form):
    """Nothing to fill in: the button is the answer."""


class PublishForm(Form):
    public_title = forms.CharField(required=False, max_length=200, label="Name on the status page")
    public_summary = forms.CharField(
        required=False, label="What customers are told", widget=forms.Textarea(attrs={"rows": 2})
    )


class RestrictionForm(Form):
    restricted = forms.BooleanField(required=False)


class ParticipantsForm(Form):
    people = PeopleChoiceField(
        queryset=User.objects.none(), label="Let see it", widget=forms.SelectMultiple(attrs={"size": 4})
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Viewers too: seeing a restricted incident is not acting on it.
        self.fields["people"].queryset = User.objects.filter(is_active=True).order_by(
            "first_name", "last_name", "username"
        )


class NoteForm(Form):
    text = forms.CharField(
        label="Note",
        error_messages={"required": errors.NOTE_REQUIRED},
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "e.g. Restarted the api pods; errors stopped"}),
    )
    occurred_at = forms.DateTimeField(
        required=False, label="Happened at", help_text="Leave empty for now.", widget=LocalDateTimeInput()
    )


class MilestoneForm(Form):
    milestone = forms.ChoiceField(choices=list(MILESTONES.items()))
    at = forms.DateTimeField(label="At", widget=LocalDateTimeInput())


class SnoozeForm(StartsFromIncident):
    minutes = forms.IntegerField(
        min_value=1, label="Push by (minutes)", widget=forms.NumberInput(attrs={"placeholder": "e.g. 10"})
    )
    reason = forms.CharField(
        max_length=500,
        label="Why it can wait",
        error_messages={"required": errors.SNOOZE_REASON_REQUIRED},
        widget=forms.TextInput(attrs={"placeholder": "e.g. Waiting on the vendor's reply"}),
    )
