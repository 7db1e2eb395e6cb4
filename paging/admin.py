from django import forms
from django.contrib import admin
from django.db.models import Count
from django.http import HttpRequest

from core.forms import WebhookUrlForm
from paging import errors
from paging.models import Escalation, EscalationLevel, EscalationPolicy, Page


class EscalationLevelForm(forms.ModelForm):
    class Meta:
        model = EscalationLevel
        fields = ["position", "delay_minutes", "schedule", "users"]

    def clean(self) -> dict:
        cleaned = super().clean()
        if not self.cleaned_data.get("DELETE") and not cleaned.get("schedule") and not cleaned.get("users"):
            raise forms.ValidationError(errors.LEVEL_WITHOUT_TARGET)
        return cleaned


class EscalationLevelInline(admin.TabularInline):
    model = EscalationLevel
    form = EscalationLevelForm
    extra = 1
    ordering = ["position"]
    autocomplete_fields = ["users"]


class EscalationPolicyForm(WebhookUrlForm):
    """The team channel's URL is a credential: shown masked, replaced or removed, never sent back."""

    class Meta:
        model = EscalationPolicy
        fields = ["team", "name", "repeat", "fallback_contact", "webhook_url", "webhook_format"]


@admin.register(EscalationPolicy)
class EscalationPolicyAdmin(admin.ModelAdmin):
    form = EscalationPolicyForm
    list_display = ["name", "team", "levels_count", "repeat", "fallback_contact", "webhook_host"]
    list_select_related = ["team", "fallback_contact"]
    autocomplete_fields = ["fallback_contact"]
    inlines = [EscalationLevelInline]

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).annotate(levels_total=Count("levels"))

    @admin.display(description="Levels", ordering="levels_total")
    def levels_count(self, policy: EscalationPolicy) -> int:
        return policy.levels_total


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records of what happened: shown, never edited."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Escalation)
class EscalationAdmin(ReadOnlyAdmin):
    list_display = ["incident", "policy", "started_at", "next_at", "stopped_at", "stop_reason"]
    list_select_related = ["incident", "policy"]
    list_filter = ["policy"]


@admin.register(Page)
class PageAdmin(ReadOnlyAdmin):
    list_display = ["incident", "user", "level", "round", "fallback", "recorded_at", "told_at", "acknowledged_at"]
    list_select_related = ["incident", "user"]
    list_filter = ["fallback", "level"]
