"""The search vector's GIN index (PostgreSQL only: SQLite searches with icontains and has no GIN),
and who may do what with runbooks.

Reading needs only a login (viewers read). Running a runbook — attaching it to an incident,
recording steps, drills — is responding, so it uses incidents.respond. Writing, importing and
restoring needs runbooks.edit, granted to responders and admins: the on-call engineer who just
followed a runbook is the one who knows what to fix in it (seed 000, "Update runbook"). A
"runbook editor" group gives the right to someone who does not respond."""

from django.db import migrations

EDIT_GROUPS = ["responder", "admin", "runbook editor"]
INDEX = "runbook_search_vector_gin"


def seed(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ContentType = apps.get_model("contenttypes", "ContentType")
    # Permissions are normally made after all migrations; a fresh database needs this one now.
    content_type, _ = ContentType.objects.get_or_create(app_label="runbooks", model="runbook")
    edit, _ = Permission.objects.get_or_create(
        content_type=content_type, codename="edit", defaults={"name": "Can write, import, edit and restore runbooks"}
    )
    for name in EDIT_GROUPS:
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(edit)


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {INDEX} ON runbooks_runbook USING gin (search_vector)")


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [
        ("runbooks", "0001_initial"),
        ("incidents", "0002_seed_policy_and_roles"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunPython(create_index, drop_index),
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]
