"""What every app's forms share: how fields render, labels without a colon, and a service's refusal
shown on the form that asked for it."""

from django import forms
from django.core.exceptions import ValidationError
from django.forms.renderers import TemplatesSetting


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
