"""Read-mostly admin: runbooks are written through their pages (services keep versions, revisions
and the search vector), so the admin lists and inspects them."""

from django.contrib import admin

from runbooks.models import Runbook, RunbookRevision, RunbookRun, RunStep


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Runbook)
class RunbookAdmin(ReadOnlyAdmin):
    list_display = ["title", "kind", "category", "severity", "version", "last_tested", "review_due_on"]
    list_filter = ["kind", "severity", "category"]
    search_fields = ["title", "slug", "symptoms"]


@admin.register(RunbookRevision)
class RunbookRevisionAdmin(ReadOnlyAdmin):
    list_display = ["runbook", "version", "author", "created_at", "change_note"]
    list_select_related = ["runbook", "author"]


class RunStepInline(admin.TabularInline):
    model = RunStep
    extra = 0
    can_delete = False
    readonly_fields = ["position", "title", "outcome", "note", "output", "recorded_by", "recorded_at"]
    exclude = ["step"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(RunbookRun)
class RunbookRunAdmin(ReadOnlyAdmin):
    list_display = ["runbook", "incident", "started_by", "started_at", "finished_at"]
    list_select_related = ["runbook", "incident", "started_by"]
    inlines = [RunStepInline]
