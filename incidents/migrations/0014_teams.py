from django.conf import settings
from django.db import migrations, models
from django.db.models.deletion import SET_NULL
from django.utils.text import slugify


def teams_from_names(apps, schema_editor):
    """Each distinct owning_team string becomes one Team; its services point at it."""
    Service = apps.get_model("incidents", "Service")
    Team = apps.get_model("incidents", "Team")
    teams = {}
    for service in Service.objects.exclude(owning_team="").order_by("pk"):
        name = " ".join(service.owning_team.split())[:100]
        if not name:
            continue
        key = name.casefold()
        if key not in teams:
            base = slugify(name)[:90] or "team"
            slug, n = base, 1
            while Team.objects.filter(slug=slug).exists():
                n += 1
                slug = f"{base}-{n}"
            teams[key] = Team.objects.get_or_create(name=name, defaults={"slug": slug})[0]
        service.owner_team = teams[key]
        service.save(update_fields=["owner_team"])


def names_from_teams(apps, schema_editor):
    Service = apps.get_model("incidents", "Service")
    for service in Service.objects.exclude(owner_team=None).select_related("owner_team"):
        service.owning_team = service.owner_team.name
        service.save(update_fields=["owning_team"])


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0013_restricted_index"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Team",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=100, unique=True)),
                ("slug", models.SlugField(max_length=100, unique=True)),
                ("description", models.TextField(blank=True)),
                ("members", models.ManyToManyField(blank=True, related_name="teams", to=settings.AUTH_USER_MODEL)),
            ],
            options={"ordering": ["name"]},
        ),
        migrations.AddField(
            model_name="service",
            name="owner_team",
            field=models.ForeignKey(
                blank=True,
                help_text="Who owns it.",
                null=True,
                on_delete=SET_NULL,
                related_name="services",
                to="incidents.team",
            ),
        ),
        migrations.RunPython(teams_from_names, names_from_teams),
        migrations.RemoveField(model_name="service", name="owning_team"),
    ]
