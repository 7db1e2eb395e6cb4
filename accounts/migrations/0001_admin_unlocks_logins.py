"""The admin role reads the failed logins django-axes records and unlocks an account by deleting
its access attempts (admin → Axes → Access attempts)."""

from django.db import migrations

ADMIN_PERMISSIONS = ["view_accessattempt", "delete_accessattempt", "view_accessfailurelog", "view_accesslog"]


def seed(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ContentType = apps.get_model("contenttypes", "ContentType")
    group, _ = Group.objects.get_or_create(name="admin")
    for codename in ADMIN_PERMISSIONS:
        action, model = codename.split("_", 1)
        content_type, _ = ContentType.objects.get_or_create(app_label="axes", model=model)
        permission, _ = Permission.objects.get_or_create(
            content_type=content_type, codename=codename, defaults={"name": f"Can {action} {model}"}
        )
        group.permissions.add(permission)


class Migration(migrations.Migration):
    dependencies = [
        ("axes", "0010_accessattemptexpiration"),
        ("incidents", "0002_seed_policy_and_roles"),
    ]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
