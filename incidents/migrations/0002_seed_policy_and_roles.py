"""Seed the severity policy from the incident-response framework (seed 002) and the role groups.

Admins edit these rows afterwards; this migration only gives a fresh install sensible values.
"""

from django.db import migrations

SEVERITIES = [
    {
        "key": "SEV1",
        "name": "Critical",
        "rank": 1,
        "description": "Complete outage",
        "examples": "Complete service down, data loss, security breach",
        "response_time_minutes": 15,
        "response_time_label": "Immediate (< 15 min)",
        "update_cadence_minutes": 15,
        "stakeholders_label": "Executives + status page",
        "show_on_status_page": True,
        "groups": ["executives", "leadership", "team"],
    },
    {
        "key": "SEV2",
        "name": "High",
        "rank": 2,
        "description": "Major degradation",
        "examples": "Partial outage, significant performance degradation",
        "response_time_minutes": 30,
        "response_time_label": "30 minutes",
        "update_cadence_minutes": 30,
        "stakeholders_label": "Leadership + status page",
        "show_on_status_page": True,
        "groups": ["leadership", "team"],
    },
    {
        "key": "SEV3",
        "name": "Medium",
        "rank": 3,
        "description": "Minor impact",
        "examples": "Limited functionality affected, minor performance issues",
        "response_time_minutes": 120,
        "response_time_label": "2 hours",
        "update_cadence_minutes": 120,
        "stakeholders_label": "Team only",
        "show_on_status_page": False,
        "groups": ["team"],
    },
    {
        "key": "SEV4",
        "name": "Low",
        "rank": 4,
        "description": "Minimal impact",
        "examples": "Cosmetic issues, documentation errors",
        "response_time_minutes": None,
        "response_time_label": "Next business day",
        "update_cadence_minutes": None,
        "stakeholders_label": "Team only",
        "show_on_status_page": False,
        "groups": ["team"],
    },
]

ROLE_GROUPS = {
    "viewer": [],
    "responder": ["respond"],
    "admin": [
        "respond",
        "add_severitypolicy",
        "change_severitypolicy",
        "view_severitypolicy",
        "add_service",
        "change_service",
        "delete_service",
        "view_service",
        "view_incident",
        "view_timelineevent",
        "view_statusupdate",
    ],
}
AUTH_ADMIN = ["add_user", "change_user", "view_user", "change_group", "view_group"]
AUDIENCE_GROUPS = ["executives", "leadership", "team"]


def _permission(Permission, ContentType, codename, app_label="incidents"):
    """Permissions are normally made after all migrations; a fresh database needs them now."""
    if codename == "respond":
        model, name = "incident", "Can act on incidents: declare, update, change severity and status"
    else:
        action, model = codename.split("_", 1)
        name = f"Can {action} {model}"
    content_type, _ = ContentType.objects.get_or_create(app_label=app_label, model=model)
    permission, _ = Permission.objects.get_or_create(
        content_type=content_type, codename=codename, defaults={"name": name}
    )
    return permission


def seed(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ContentType = apps.get_model("contenttypes", "ContentType")
    SeverityPolicy = apps.get_model("incidents", "SeverityPolicy")

    for name, codenames in ROLE_GROUPS.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(*(_permission(Permission, ContentType, codename) for codename in codenames))
        if name == "admin":
            group.permissions.add(*(_permission(Permission, ContentType, codename, "auth") for codename in AUTH_ADMIN))
    audiences = {name: Group.objects.get_or_create(name=name)[0] for name in AUDIENCE_GROUPS}

    for row in SEVERITIES:
        values = {key: value for key, value in row.items() if key != "groups"}
        policy, created = SeverityPolicy.objects.get_or_create(key=values.pop("key"), defaults=values)
        if created:
            policy.notified_groups.set([audiences[name] for name in row["groups"]])


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
