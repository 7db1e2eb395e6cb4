"""Seed the severity → component status mapping and the status page's permissions.

Admins edit the mapping afterwards (admin → Severity impacts); this only gives a fresh install the
framework's meaning: SEV1 a complete outage, SEV2 a partial one, SEV3 and lower a degradation.
"""

from django.db import migrations

# By severity rank, so renamed keys still get a sensible default; ranks past the list degrade.
IMPACT_BY_RANK = {1: "major_outage", 2: "partial_outage"}
DEFAULT_IMPACT = "degraded_performance"
MODELS = ["componentgroup", "component", "severityimpact", "maintenancewindow", "statuspagesettings", "subscriber"]


def seed(apps, schema_editor) -> None:
    SeverityPolicy = apps.get_model("incidents", "SeverityPolicy")
    SeverityImpact = apps.get_model("statuspage", "SeverityImpact")
    for policy in SeverityPolicy.objects.all():
        SeverityImpact.objects.get_or_create(
            severity=policy, defaults={"component_status": IMPACT_BY_RANK.get(policy.rank, DEFAULT_IMPACT)}
        )
    StatusPageSettings = apps.get_model("statuspage", "StatusPageSettings")
    StatusPageSettings.objects.get_or_create(pk=1)

    # Permissions are normally made after all migrations; a fresh database needs them now.
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ContentType = apps.get_model("contenttypes", "ContentType")
    admin, _ = Group.objects.get_or_create(name="admin")
    for model in MODELS:
        content_type, _ = ContentType.objects.get_or_create(app_label="statuspage", model=model)
        for action in ("add", "change", "delete", "view"):
            permission, _ = Permission.objects.get_or_create(
                content_type=content_type, codename=f"{action}_{model}", defaults={"name": f"Can {action} {model}"}
            )
            admin.permissions.add(permission)


class Migration(migrations.Migration):
    dependencies = [
        ("statuspage", "0001_initial"),
        ("incidents", "0002_seed_policy_and_roles"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
