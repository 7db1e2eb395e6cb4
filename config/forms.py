"""What every app's views share about forms."""

from django.core.exceptions import ValidationError
from django.forms import Form


def service_errors_apply(form: Form, error: ValidationError) -> None:
    """Show a service's refusal on the form that asked for it: a message for a field on that
    field (when the form has it), anything else above the form, so nothing typed is lost."""
    if hasattr(error, "error_dict"):
        for field, messages in error.message_dict.items():
            form.add_error(field if field in form.fields else None, messages)
    else:
        form.add_error(None, error.messages)
