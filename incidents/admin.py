from django import forms
from django.contrib import admin

from config.versions import INCIDENTS, BumpsPageVersion
from core.text import single_line
from incidents.models import ApiToken, Incident, Service, SeverityPolicy, TimelineEvent


@admin.register(SeverityPolicy)
class SeverityPolicyAdmin(BumpsPageVersion, admin.ModelAdmin):
    page_version = INCIDENTS
    list_display = [
        "key",
        "name",
        "rank",
        "response_time_label",
        "update_cadence_minutes",
        "stakeholders_label",
        "show_on_status_page",
    ]
    list_editable = ["update_cadence_minutes", "show_on_status_page"]
    filter_horizontal = ["notified_groups"]
    ordering = ["rank"]

    def has_delete_permission(self, request, obj=None) -> bool:
        # Incidents point at their severity; removing a row would orphan history.
        return False


class ServiceForm(forms.ModelForm):
    def clean_name(self) -> str:
        # Service names go into notification texts and one-line lists.
        return single_line(self.cleaned_data["name"])


@admin.register(Service)
class ServiceAdmin(BumpsPageVersion, admin.ModelAdmin):
    form = ServiceForm
    page_version = INCIDENTS
    list_display = ["name", "owning_team", "description"]
    search_fields = ["name", "owning_team"]
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
