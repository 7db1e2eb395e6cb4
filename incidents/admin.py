from django import forms
from django.contrib import admin
from django.db import models

from config.versions import INCIDENTS, BumpsPageVersion
from core.forms import WriteOnlyFieldsMixin
from core.outbound import outbound_url_check, url_masked
from core.text import single_line
from incidents.models import ApiToken, Incident, Service, SeverityPolicy, Team, TimelineEvent
from incidents.policy import (
    ADMIN_FLAGS,
    ADMIN_TEXT_FIELDS,
    POLICY_FIELDS,
    severity_policy_problems,
    severity_policy_update,
)


class SeverityPolicyForm(WriteOnlyFieldsMixin, forms.ModelForm):
    """Checked by the policy service's rules, whose refusals show on their fields, before the
    admin saves the change through severity_policy_update (SeverityPolicyAdmin.save_model). The
    webhook URL is a credential: shown masked, replaced or removed, never sent back."""

    write_only = {"webhook_url": url_masked}
    webhook_url_remove = forms.BooleanField(required=False, label="Remove the webhook")

    def clean_webhook_url(self) -> str:
        # A new severity is a plain create, not the policy service's change: checked here too.
        outbound_url_check(self.cleaned_data["webhook_url"])
        return self.cleaned_data["webhook_url"]

    def clean(self) -> dict:
        data = super().clean()
        if self.instance.pk is not None:
            for field, messages in severity_policy_problems(
                policy=self.instance, changes=self.policy_changes()
            ).items():
                self.add_error(field, messages)
        return data

    def policy_changes(self) -> dict:
        editable = POLICY_FIELDS | set(ADMIN_TEXT_FIELDS) | set(ADMIN_FLAGS)
        changes = {
            field: self.cleaned_data[field]
            for field in self.changed_data
            if field in editable and field in self.cleaned_data
        }
        if self.cleaned_data.get("webhook_url_remove"):
            changes["webhook_url"] = ""
        return changes


@admin.register(SeverityPolicy)
class SeverityPolicyAdmin(BumpsPageVersion, admin.ModelAdmin):
    """A change goes through severity_policy_update, as the API's does: the values are checked and
    a new cadence re-plans the severity's active incidents. Key and rank are not editable once a
    severity exists (the service's rule); adding a severity is a plain create."""

    page_version = INCIDENTS
    form = SeverityPolicyForm
    list_display = [
        "key",
        "name",
        "rank",
        "response_time_label",
        "update_cadence_minutes",
        "stakeholders_label",
        "show_on_status_page",
        "public_updates_need_approval",
    ]
    list_editable = ["update_cadence_minutes", "show_on_status_page"]
    filter_horizontal = ["notified_groups"]
    ordering = ["rank"]
    # A webhook typed without a scheme is taken as https (Django 6's default, said now).
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        return ["key", "rank"] if obj is not None else []

    def get_changelist_form(self, request, **kwargs):
        return super().get_changelist_form(request, form=SeverityPolicyForm, **kwargs)

    def save_model(self, request, obj, form, change) -> None:
        if not change:
            super().save_model(request, obj, form, change)
            return
        severity_policy_update(policy=obj, actor=request.user, **form.policy_changes())

    def save_related(self, request, form, formsets, change) -> None:
        # A change's relations were set by severity_policy_update, which bumps the page version.
        if not change:
            super().save_related(request, form, formsets, change)

    def has_delete_permission(self, request, obj=None) -> bool:
        # Incidents point at their severity; removing a row would orphan history.
        return False


class ServiceForm(forms.ModelForm):
    def clean_name(self) -> str:
        # Service names go into notification texts and one-line lists.
        return single_line(self.cleaned_data["name"])


class TeamForm(forms.ModelForm):
    def clean_name(self) -> str:
        return single_line(self.cleaned_data["name"])


@admin.register(Team)
class TeamAdmin(BumpsPageVersion, admin.ModelAdmin):
    form = TeamForm
    page_version = INCIDENTS
    list_display = ["name", "slug"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["members"]


@admin.register(Service)
class ServiceAdmin(BumpsPageVersion, admin.ModelAdmin):
    form = ServiceForm
    page_version = INCIDENTS
    list_display = ["name", "owner_team", "description"]
    list_select_related = ["owner_team"]
    list_filter = ["owner_team"]
    search_fields = ["name", "owner_team__name"]
    autocomplete_fields = ["owner_team"]
    prepopulated_fields = {"slug": ["name"]}


class ReadOnlyAdmin(admin.ModelAdmin):
    """Incidents change only through the service layer (the incident pages and the API), so the
    admin shows them without edit or delete."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Incident)
class IncidentAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "severity", "status", "lead", "declared_at", "resolved_at"]
    list_filter = ["severity", "status"]
    list_select_related = ["severity", "lead"]
    search_fields = ["title"]
    date_hierarchy = "declared_at"


@admin.register(TimelineEvent)
class TimelineEventAdmin(ReadOnlyAdmin):
    list_display = ["incident", "kind", "text", "actor", "occurred_at"]
    list_filter = ["kind"]
    list_select_related = ["incident", "actor"]
    raw_id_fields = ["incident"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "prefix", "created_at", "last_used_at"]
    readonly_fields = ["user", "name", "prefix", "digest", "created_at", "last_used_at"]

    def has_add_permission(self, request) -> bool:
        return False
