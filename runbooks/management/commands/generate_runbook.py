from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from incidents.models import Service
from runbooks import generator, services


class Command(BaseCommand):
    help = (
        "Write an operational runbook for SERVICE from seed 004's five questions: the same Markdown as "
        "/runbooks/generate/, to stdout or --output; --save also stores it as a runbook (version 1)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("service", help="A catalog service's name or slug, or a new service's name.")
        parser.add_argument("--type", dest="service_type", default="api", help="Service type, e.g. api, web, worker.")
        parser.add_argument("--environment", default="kubernetes", help="e.g. kubernetes, docker-compose, vm.")
        parser.add_argument("--criticality", default="high", help="critical, high, medium or low.")
        parser.add_argument("--monitoring", default="prometheus", help="e.g. prometheus, datadog, cloudwatch.")
        parser.add_argument("--oncall", default="24x7", help="24x7, business-hours, follow-the-sun or none.")
        parser.add_argument("--datastore", default="postgresql", help="e.g. postgresql, mysql, redis, none.")
        parser.add_argument("--owner-team", default=None)
        parser.add_argument("--namespace", default="")
        parser.add_argument("--hosts", default="")
        parser.add_argument("--dashboard-url", default="")
        parser.add_argument("--logs-url", default="")
        parser.add_argument("--availability", default="", help="Availability SLO in %%, e.g. 99.9.")
        parser.add_argument("--latency-ms", default="", help="p95 latency SLO in milliseconds.")
        parser.add_argument("--error-rate", dest="error_rate_percent", default="", help="Error rate SLO in %%.")
        parser.add_argument("--output", type=Path, help="Write to this file instead of stdout.")
        parser.add_argument("--save", action="store_true", help="Also store it as a runbook.")

    def handle(self, *args, service: str, output: Path | None, save: bool, owner_team: str | None, **options):
        values = {
            name: options[name]
            for name in (
                "service_type", "environment", "criticality", "monitoring", "oncall", "datastore", "namespace",
                "hosts", "dashboard_url", "logs_url", "availability", "latency_ms", "error_rate_percent",
            )
        }  # fmt: skip
        if owner_team is not None:
            values["owner_team"] = owner_team
        known = Service.objects.filter(slug=service).first() or Service.objects.filter(name__iexact=service).first()
        answers = generator.answers_for_service(known, **values) if known else generator.Answers(name=service, **values)
        try:
            markdown = generator.generate(answers)
        except generator.GeneratorError as error:
            raise CommandError(str(error)) from None
        if output:
            output.write_text(markdown, encoding="utf-8")
            self.stderr.write(f"Wrote {output}")
        else:
            self.stdout.write(markdown, ending="")
        if save:
            try:
                runbook, _unknown = services.runbook_generate(answers=answers, actor=None)
            except ValidationError as error:
                raise CommandError("; ".join(error.messages)) from None
            self.stderr.write(f"Saved as /runbooks/{runbook.slug}/ (version {runbook.version})")
