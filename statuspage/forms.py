from django import forms

from statuspage.models import ComponentStatus


class SubscribeForm(forms.Form):
    email = forms.EmailField(max_length=254, label="Email address")


class ComponentStatusForm(forms.Form):
    status = forms.ChoiceField(choices=ComponentStatus.choices, label="Status set by responders")
