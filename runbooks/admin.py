"""Read-mostly admin: runbooks are written through their pages (services keep versions, revisions
and the search vector), so the admin lists and inspects them."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from runbooks import services
from runbooks.models import Runbook, RunbookRevision, RunbookRun, RunStep, SearchSynonym


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Runbook)
class RunbookAdmin(ReadOnlyAdmin):
    list_display = ["title", "kind", "category", "severity", "owner_team", "version", "last_tested", "review_due_on"]
    list_filter = ["kind", "severity", "category", "owner_team"]
    list_select_related = ["owner_team"]
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


class SearchSynonymForm(forms.ModelForm):
    class Meta:
        model = SearchSynonym
        fields = ["terms"]

    def clean_terms(self) -> str:
        try:
            return services.synonym_line(self.cleaned_data["terms"])
        except ValidationError as error:
            raise ValidationError(error.message_dict["terms"]) from None


@admin.register(SearchSynonym)
class SearchSynonymAdmin(admin.ModelAdmin):
    """Synonyms the search widens a query with ("slow ~ latency"): written through
    services.search_synonym_save, which stores them as the search reads them."""

    form = SearchSynonymForm
    list_display = ["terms"]
    search_fields = ["terms"]

    def save_model(self, request, obj, form, change) -> None:
        services.search_synonym_save(synonym=obj, terms=form.cleaned_data["terms"])
