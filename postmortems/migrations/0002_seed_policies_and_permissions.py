"""Seed the postmortem policy from the incident-response framework (seed 002: a postmortem within 2
business days for SEV1 and SEV2; SEV3 optional; SEV4 not required), the action-item due policy
(urgent 3 days, otherwise 7) and the admin group's right to edit both. Admins edit the rows
afterwards; this only gives a fresh install sensible values."""

from django.db import migrations

POLICIES = {
    "SEV1": ("required", 2),
    "SEV2": ("required", 2),
    "SEV3": ("optional", 5),
    "SEV4": ("not_required", 5),
}
ACTION_ITEM_DAYS = {"urgent": 3, "high": 7, "medium": 7, "low": 7}
ADMIN_CODENAMES = [
    f"{action}_{model}" for model in ("postmortempolicy", "actionitemduepolicy") for action in ("add", "change", "view")
] + ["view_postmortem", "view_actionitem"]


def seed(apps, schema_editor):
    SeverityPolicy = apps.get_model("incidents", "SeverityPolicy")
    PostmortemPolicy = apps.get_model("postmortems", "PostmortemPolicy")
    ActionItemDuePolicy = apps.get_model("postmortems", "ActionItemDuePolicy")
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ContentType = apps.get_model("contenttypes", "ContentType")

    for severity in SeverityPolicy.objects.all():
        # A severity added later by an admin gets the cautious default: optional.
        requirement, days = POLICIES.get(severity.key, ("optional", 2))
        PostmortemPolicy.objects.get_or_create(
            severity=severity, defaults={"requirement": requirement, "business_days": days}
        )
    for priority, days in ACTION_ITEM_DAYS.items():
        ActionItemDuePolicy.objects.get_or_create(priority=priority, defaults={"days": days})

    admin = Group.objects.filter(name="admin").first()
    if admin is None:
        return
    for codename in ADMIN_CODENAMES:
        action, model = codename.split("_", 1)
        content_type, _ = ContentType.objects.get_or_create(app_label="postmortems", model=model)
        permission, _ = Permission.objects.get_or_create(
            content_type=content_type, codename=codename, defaults={"name": f"Can {action} {model}"}
        )
        admin.permissions.add(permission)


class Migration(migrations.Migration):
    dependencies = [
        ("postmortems", "0001_initial"),
        ("incidents", "0002_seed_policy_and_roles"),
    ]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
