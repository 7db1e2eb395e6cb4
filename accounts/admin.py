"""Users and groups in the admin, without self-escalation.

The admin role (a group holding change_user and change_group) manages people's roles, but a
non-superuser can only hand out what they hold themselves:
- is_staff, is_superuser and per-user permissions are not in their forms (a POST of them is
  ignored): only a superuser grants those;
- they assign only groups whose every permission they hold, and give a group only permissions
  they hold;
- they change or delete only accounts and groups that hold no permission they lack (never a
  superuser), so they cannot take over a stronger account by editing its email or password.
"""

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, Permission, User
from django.db.models import QuerySet
from django.http import HttpRequest


def _names(permissions: QuerySet[Permission]) -> set[str]:
    return {
        f"{app_label}.{codename}"
        for app_label, codename in permissions.values_list("content_type__app_label", "codename")
    }


def _within(request: HttpRequest, permissions: set[str]) -> bool:
    return request.user.is_superuser or permissions <= request.user.get_all_permissions()


def _assignable_groups(request: HttpRequest) -> QuerySet[Group]:
    held = request.user.get_all_permissions()
    groups = Group.objects.prefetch_related("permissions__content_type")
    allowed = [
        group.pk
        for group in groups
        if all(f"{p.content_type.app_label}.{p.codename}" in held for p in group.permissions.all())
    ]
    return Group.objects.filter(pk__in=allowed)


def _held_permissions(request: HttpRequest) -> QuerySet[Permission]:
    held = request.user.get_all_permissions()
    pks = [
        pk
        for pk, app_label, codename in Permission.objects.values_list("pk", "content_type__app_label", "codename")
        if f"{app_label}.{codename}" in held
    ]
    return Permission.objects.filter(pk__in=pks).select_related("content_type")


admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class RoleUserAdmin(UserAdmin):
    def get_fieldsets(self, request: HttpRequest, obj: User | None = None):
        fieldsets = super().get_fieldsets(request, obj)
        if request.user.is_superuser:
            return fieldsets
        superuser_only = {"is_staff", "is_superuser", "user_permissions"}
        return [
            (name, {**options, "fields": [field for field in options["fields"] if field not in superuser_only]})
            for name, options in fieldsets
        ]

    def formfield_for_manytomany(self, db_field, request: HttpRequest, **kwargs):
        if db_field.name == "groups" and not request.user.is_superuser:
            kwargs["queryset"] = _assignable_groups(request)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def _holds_no_more(self, request: HttpRequest, obj: User | None) -> bool:
        if obj is None or request.user.is_superuser:
            return True
        if obj.is_superuser:
            return False
        return _within(request, obj.get_all_permissions())

    def has_change_permission(self, request: HttpRequest, obj: User | None = None) -> bool:
        return super().has_change_permission(request, obj) and self._holds_no_more(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: User | None = None) -> bool:
        return super().has_delete_permission(request, obj) and self._holds_no_more(request, obj)


@admin.register(Group)
class RoleGroupAdmin(GroupAdmin):
    def formfield_for_manytomany(self, db_field, request: HttpRequest, **kwargs):
        if db_field.name == "permissions" and not request.user.is_superuser:
            kwargs["queryset"] = _held_permissions(request)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def _holds_no_more(self, request: HttpRequest, obj: Group | None) -> bool:
        return obj is None or _within(request, _names(obj.permissions.all()))

    def has_change_permission(self, request: HttpRequest, obj: Group | None = None) -> bool:
        return super().has_change_permission(request, obj) and self._holds_no_more(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Group | None = None) -> bool:
        return super().has_delete_permission(request, obj) and self._holds_no_more(request, obj)
