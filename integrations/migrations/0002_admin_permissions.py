"""The admin role manages alert sources, rules and webhook subscriptions, and reads the logs."""

from django.db import migrations

ADMIN_PERMISSIONS = [
    *(
        f"{action}_{model}"
        for model in ("alertsource", "alertrule", "webhooksubscription")
        for action in ("add", "change", "delete", "view")
    ),
    "view_alert",
    "view_rejectedpayload",
    "view_webhookdelivery",
]


def seed(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ContentType = apps.get_model("contenttypes", "ContentType")
    group, _ = Group.objects.get_or_create(name="admin")
    for codename in ADMIN_PERMISSIONS:
        action, model = codename.split("_", 1)
        content_type, _ = ContentType.objects.get_or_create(app_label="integrations", model=model)
        permission, _ = Permission.objects.get_or_create(
            content_type=content_type, codename=codename, defaults={"name": f"Can {action} {model}"}
        )
        group.permissions.add(permission)


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0001_initial"),
        ("incidents", "0002_seed_policy_and_roles"),
    ]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
