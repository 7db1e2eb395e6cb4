from django.contrib import admin

from config.versions import POSTMORTEMS, BumpsPageVersion
from postmortems.models import ActionItem, ActionItemDuePolicy, Postmortem, PostmortemPolicy


@admin.register(PostmortemPolicy)
class PostmortemPolicyAdmin(BumpsPageVersion, admin.ModelAdmin):
    page_version = POSTMORTEMS
    list_display = ["severity", "requirement", "business_days", "approval_by_other"]
    list_editable = ["requirement", "business_days", "approval_by_other"]
    list_select_related = ["severity"]


@admin.register(ActionItemDuePolicy)
class ActionItemDuePolicyAdmin(BumpsPageVersion, admin.ModelAdmin):
    page_version = POSTMORTEMS
    list_display = ["priority", "days"]
    list_editable = ["days"]


@admin.register(Postmortem)
class PostmortemAdmin(admin.ModelAdmin):
    """Read-only: postmortems change through the editor, whose services keep the history."""

    list_display = ["incident", "status", "owner", "due_on", "version"]
    list_filter = ["status"]
    list_select_related = ["incident", "owner"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ActionItem)
class ActionItemAdmin(BumpsPageVersion, admin.ModelAdmin):
    page_version = POSTMORTEMS
    list_display = ["title", "owner", "priority", "kind", "status", "due_on"]
    list_filter = ["status", "priority", "kind"]
    list_select_related = ["owner"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
