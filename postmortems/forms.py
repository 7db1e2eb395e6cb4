from django import forms
from django.contrib.auth import get_user_model

from postmortems.models import ActionKind, ActionStatus, Priority


def _people():
    return get_user_model().objects.filter(is_active=True).order_by("username")


class PersonChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return obj.get_full_name() or obj.get_username()


class PeopleChoice(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj) -> str:
        return obj.get_full_name() or obj.get_username()


class ReviewForm(forms.Form):
    reviewers = PeopleChoice(queryset=_people(), widget=forms.SelectMultiple(attrs={"size": 4}))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reviewers"].queryset = _people()


class NotRequiredForm(forms.Form):
    reason = forms.CharField(max_length=2000, widget=forms.TextInput(attrs={"placeholder": "Why not?"}))


class TimelineRowForm(forms.Form):
    text = forms.CharField(max_length=500)
    occurred_at = forms.DateTimeField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))


class FiveWhyForm(forms.Form):
    why = forms.CharField(max_length=500, label="Why?")
    because = forms.CharField(max_length=500, required=False, label="Because")


class ActionItemForm(forms.Form):
    title = forms.CharField(max_length=200)
    owner = PersonChoice(queryset=_people(), required=False, empty_label="Me")
    priority = forms.ChoiceField(choices=Priority.choices, initial=Priority.MEDIUM)
    kind = forms.ChoiceField(choices=ActionKind.choices, initial=ActionKind.PREVENT)
    due_on = forms.DateField(
        required=False, label="Due", widget=forms.DateInput(attrs={"type": "date"}), help_text="Empty: by priority."
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = _people()


class ActionItemStatusForm(forms.Form):
    status = forms.ChoiceField(choices=ActionStatus.choices)
