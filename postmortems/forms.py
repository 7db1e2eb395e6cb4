from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX

from core.forms import Form
from postmortems.models import ActionKind, ActionStatus, Priority


def people():
    """Who can own an action item or review a postmortem: people who can log in. System users such
    as the alerts integration's have an unusable password."""
    return (
        get_user_model()
        .objects.filter(is_active=True)
        .exclude(password__startswith=UNUSABLE_PASSWORD_PREFIX)
        .exclude(password="")
        .order_by("first_name", "last_name", "username")
    )


class PersonChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return obj.get_full_name() or obj.get_username()


class PeopleChoice(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj) -> str:
        return obj.get_full_name() or obj.get_username()


class ReviewForm(Form):
    reviewers = PeopleChoice(queryset=people(), widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reviewers"].queryset = people()


class NotRequiredForm(Form):
    reason = forms.CharField(
        max_length=2000, widget=forms.TextInput(attrs={"placeholder": "Why not? e.g. a duplicate of INC-0041"})
    )


class TimelineRowForm(Form):
    text = forms.CharField(max_length=500)
    occurred_at = forms.DateTimeField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))


class FiveWhyForm(Form):
    why = forms.CharField(max_length=500, label="Why?")
    because = forms.CharField(max_length=500, required=False, label="Because")


class ActionItemForm(Form):
    title = forms.CharField(max_length=200)
    owner = PersonChoice(queryset=people(), required=False, empty_label="Me")
    priority = forms.ChoiceField(choices=Priority.choices, initial=Priority.MEDIUM)
    kind = forms.ChoiceField(choices=ActionKind.choices, initial=ActionKind.PREVENT)
    due_on = forms.DateField(
        required=False, label="Due", widget=forms.DateInput(attrs={"type": "date"}), help_text="Empty: by priority."
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = people()


class ActionItemStatusForm(Form):
    status = forms.ChoiceField(choices=ActionStatus.choices)
