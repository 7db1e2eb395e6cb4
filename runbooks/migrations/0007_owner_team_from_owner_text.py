"""A runbook whose owner text is a team's name (any case, spaces trimmed) names that team."""

from django.db import migrations


def owner_team_from_text(apps, schema_editor):
    Runbook = apps.get_model("runbooks", "Runbook")
    Team = apps.get_model("incidents", "Team")
    teams = {" ".join(name.split()).casefold(): pk for pk, name in Team.objects.values_list("pk", "name")}
    for runbook in Runbook.objects.filter(owner_team__isnull=True).exclude(owner="").only("pk", "owner"):
        team_id = teams.get(" ".join(runbook.owner.split()).casefold())
        if team_id is not None:
            Runbook.objects.filter(pk=runbook.pk).update(owner_team_id=team_id)


class Migration(migrations.Migration):
    dependencies = [("runbooks", "0006_owner_team")]

    operations = [migrations.RunPython(owner_team_from_text, migrations.RunPython.noop)]
