from django import forms

from core.forms import Form
from notifications.models import WebhookFormat


class ChannelsForm(Form):
    """How to reach me. The webhook URL is write-only: the field starts empty; empty keeps the
    stored one, and the service checks a new one (notifications.services.channel_preference_set)."""

    email = forms.BooleanField(required=False, label="Email")
    webhook_url = forms.CharField(
        required=False,
        max_length=500,
        label="My webhook",
        help_text="A Slack incoming webhook or any endpoint that takes a JSON POST. Pages to you carry their "
        "acknowledge link, so keep it to a channel only you read.",
        widget=forms.URLInput(attrs={"placeholder": "https://hooks.slack.com/services/…", "autocomplete": "off"}),
    )
    webhook_format = forms.ChoiceField(choices=WebhookFormat.choices, label="Format")
    webhook_remove = forms.BooleanField(required=False, label="Remove my webhook")
