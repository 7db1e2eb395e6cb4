"""Schedules are edited here: a schedule page shows its rotations and overrides inline, and a
rotation's page its members in turn order (the stock admin nests one level of inlines). Every
save or delete bumps the on-call page version, so the pages showing who is on call read again."""

from zoneinfo import available_timezones

from django import forms
from django.contrib import admin

from config.versions import ONCALL, BumpsPageVersion
from core.text import single_line
from oncall.models import Override, Rotation, RotationMember, Schedule

TIME_ZONE_CHOICES = [(name, name) for name in sorted(available_timezones())]


class ScheduleForm(forms.ModelForm):
    time_zone = forms.ChoiceField(choices=TIME_ZONE_CHOICES, initial="UTC")

    class Meta:
        model = Schedule
        fields = ["team", "name", "slug", "time_zone", "description"]

    def clean_name(self) -> str:
        return single_line(self.cleaned_data["name"])


class RotationInline(admin.TabularInline):
    model = Rotation
    extra = 0
    show_change_link = True  # its members are edited on the rotation's own page
    fields = ["position", "name", "shift_length", "shift_unit", "handoff_time", "start_date", "member_names"]
    readonly_fields = ["member_names"]

    @admin.display(description="Members, in turn")
    def member_names(self, rotation: Rotation) -> str:
        if rotation.pk is None:
            return "Save, then add members on the rotation's page."
        names = [m.user.get_full_name() or m.user.get_username() for m in rotation.memberships.select_related("user")]
        return ", ".join(names) or "Nobody yet"


class OverrideInline(admin.TabularInline):
    model = Override
    extra = 0
    fields = ["user", "starts_at", "ends_at", "rotation", "note"]
    autocomplete_fields = ["user"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "rotation":
            schedule_id = request.resolver_match.kwargs.get("object_id")
            kwargs["queryset"] = Rotation.objects.filter(schedule_id=schedule_id or 0)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Schedule)
class ScheduleAdmin(BumpsPageVersion, admin.ModelAdmin):
    page_version = ONCALL
    form = ScheduleForm
    list_display = ["name", "team", "time_zone"]
    list_select_related = ["team"]
    list_filter = ["team"]
    search_fields = ["name", "team__name"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [RotationInline, OverrideInline]


class RotationMemberInline(admin.TabularInline):
    model = RotationMember
    extra = 1
    fields = ["position", "user"]
    autocomplete_fields = ["user"]
    ordering = ["position", "pk"]


@admin.register(Rotation)
class RotationAdmin(BumpsPageVersion, admin.ModelAdmin):
    page_version = ONCALL
    list_display = ["name", "schedule", "position", "shift_length", "shift_unit", "handoff_time", "start_date"]
    list_select_related = ["schedule"]
    list_filter = ["schedule"]
    inlines = [RotationMemberInline]
