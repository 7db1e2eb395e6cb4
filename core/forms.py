"""What every app's forms share: how fields render, labels without a colon, and a service's refusal
shown on the form that asked for it."""

from collections.abc import Callable

from django import forms
from django.core.exceptions import ValidationError
from django.forms.renderers import TemplatesSetting

from core.outbound import outbound_url_check, url_masked


class FormRenderer(TemplatesSetting):
    field_template_name = "forms/field.html"


class Form(forms.Form):
    """Labels without a trailing colon, as in the rest of the interface."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


def service_errors_apply(form: forms.Form, error: ValidationError) -> None:
    """Show a service's refusal on the form that asked for it: a message for a field on that
    field (when the form has it), anything else above the form, so nothing typed is lost."""
    if hasattr(error, "error_dict"):
        for field, messages in error.message_dict.items():
            form.add_error(field if field in form.fields else None, messages)
    else:
        form.add_error(None, error.messages)


WRITE_ONLY_HELP = "Now {masked}: leave this empty to keep it, or type a new one to replace it."


class WriteOnlyFieldsMixin:
    """For a ModelForm (the admin's) whose fields hold credentials, such as a webhook URL or a
    signing secret: the stored value never goes to the browser. The field starts empty, with the
    value shown masked; left empty it keeps the stored value, and a new value replaces it. A form
    may also declare a `<name>_remove` checkbox to empty a field that may be blank.
    `write_only` maps each such field to how its stored value is shown masked."""

    write_only: dict[str, Callable[[str], str]] = {}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._stored = {}
        for name, mask in self.write_only.items():
            if name not in self.fields:
                continue
            stored = getattr(self.instance, name, "") if self.instance.pk is not None else ""
            self.initial[name] = ""
            if not stored:
                continue
            self._stored[name] = stored
            field = self.fields[name]
            field.required = False
            field.widget.attrs["placeholder"] = mask(stored)
            field.help_text = WRITE_ONLY_HELP.format(masked=mask(stored))

    def clean(self) -> dict:
        data = super().clean()
        for name, stored in self._stored.items():
            if data.get(f"{name}_remove"):
                data[name] = ""
            elif not data.get(name):
                data[name] = stored
        return data


class WebhookUrlForm(WriteOnlyFieldsMixin, forms.ModelForm):
    """An admin form of a model with a `webhook_url` credential (a team's channel, a person's own
    hook): shown masked, replaced or removed, never sent back, and a new one checked against
    internal networks when saved (core.outbound; checked again whenever something is sent)."""

    write_only = {"webhook_url": url_masked}
    webhook_url = forms.URLField(max_length=500, assume_scheme="https", required=False, label="Webhook URL")
    webhook_url_remove = forms.BooleanField(required=False, label="Remove the webhook")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["webhook_url"]
        field.help_text = field.help_text or self._meta.model._meta.get_field("webhook_url").help_text

    def clean_webhook_url(self) -> str:
        if self.cleaned_data["webhook_url"]:
            outbound_url_check(self.cleaned_data["webhook_url"])
        return self.cleaned_data["webhook_url"]
