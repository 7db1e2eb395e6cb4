from django import forms
from django.contrib import admin
from django.utils import timezone

from statuspage import errors, services
from statuspage.forms import StatusPageSettingsForm
from statuspage.models import (
    Component,
    ComponentGroup,
    ComponentStatusChange,
    MaintenanceWindow,
    SeverityImpact,
    StatusPageSettings,
    Subscriber,
)


class RepublishAdmin(admin.ModelAdmin):
    """Configuration edited here changes what the public page shows: after each save or delete the
    components are recomputed and the cached page is rendered again."""

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        services.status_page_configuration_changed(actor=request.user)

    def delete_model(self, request, obj) -> None:
        super().delete_model(request, obj)
        services.status_page_configuration_changed(actor=request.user)

    def delete_queryset(self, request, queryset) -> None:
        super().delete_queryset(request, queryset)
        services.status_page_configuration_changed(actor=request.user)


@admin.register(ComponentGroup)
class ComponentGroupAdmin(RepublishAdmin):
    list_display = ["name", "position"]
    list_editable = ["position"]


@admin.register(Component)
class ComponentAdmin(RepublishAdmin):
    list_display = ["name", "group", "service", "status", "manual_status", "position"]
    list_filter = ["group", "status"]
    list_select_related = ["group", "service"]
    readonly_fields = ["status", "status_changed_at"]


@admin.register(SeverityImpact)
class SeverityImpactAdmin(RepublishAdmin):
    list_display = ["severity", "component_status"]
    list_editable = ["component_status"]
    list_select_related = ["severity"]


class MaintenanceWindowForm(forms.ModelForm):
    short_notice = forms.BooleanField(
        required=False, help_text="Plan it less than 72 hours ahead (the seeds announce maintenance 72 hours ahead)."
    )

    class Meta:
        model = MaintenanceWindow
        fields = ["title", "description", "components", "starts_at", "ends_at", "short_notice"]

    def clean(self) -> dict:
        data = super().clean()
        starts_at, ends_at = data.get("starts_at"), data.get("ends_at")
        if starts_at and ends_at and ends_at <= starts_at:
            self.add_error("ends_at", errors.MAINTENANCE_ENDS_BEFORE_START)
        newly_planned = self.instance.pk is None or "starts_at" in self.changed_data
        too_soon = starts_at is not None and starts_at < timezone.now() + services.MAINTENANCE_NOTICE
        if newly_planned and too_soon and not data.get("short_notice"):
            self.add_error("starts_at", errors.MAINTENANCE_NOTICE_TOO_SHORT)
        return data


@admin.register(MaintenanceWindow)
class MaintenanceWindowAdmin(RepublishAdmin):
    form = MaintenanceWindowForm
    list_display = ["title", "starts_at", "ends_at"]
    filter_horizontal = ["components"]

    def save_model(self, request, obj, form, change) -> None:
        if obj.created_at is None:
            obj.created_at = timezone.now()
        super().save_model(request, obj, form, change)


@admin.register(StatusPageSettings)
class StatusPageSettingsAdmin(RepublishAdmin):
    form = StatusPageSettingsForm
    list_display = ["title", "brand_colour", "text_colour"]

    def has_add_permission(self, request) -> bool:
        return not StatusPageSettings.objects.exists()

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ComponentStatusChange)
class ComponentStatusChangeAdmin(admin.ModelAdmin):
    list_display = ["component", "previous_status", "status", "changed_at", "incident", "actor"]
    list_select_related = ["component", "incident", "actor"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Subscriber)
class SubscriberAdmin(admin.ModelAdmin):
    list_display = ["email", "confirmed_at", "created_at"]
    readonly_fields = ["confirm_token", "unsubscribe_token", "created_at", "confirmation_sent_at", "confirmed_at"]

    def has_add_permission(self, request) -> bool:
        # Subscribing is double opt-in: people subscribe themselves on the status page.
        return False
