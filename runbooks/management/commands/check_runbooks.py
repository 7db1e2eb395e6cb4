import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from runbooks import selectors
from runbooks.completeness import runbook_completeness
from runbooks.markdown_format import RunbookFormatError, parse
from runbooks.models import Runbook
from runbooks.services import _review_interval


class Command(BaseCommand):
    help = (
        "Check runbooks against seed 004's rules: each one's score (0-100) and what is missing. Exits 1 when "
        "one scores below --min-score (a CI gate for runbooks kept in git)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("files", nargs="*", type=Path, help="Markdown files in the runbook format.")
        parser.add_argument("--all", action="store_true", help="Every stored runbook.")
        parser.add_argument("--min-score", type=int, default=0, help="Fail when a runbook scores below this.")

    def handle(self, *args, files: list[Path], all: bool, min_score: int, **options) -> None:
        if not files and not all:
            raise CommandError("Name Markdown files, or --all for the stored runbooks.")
        today = timezone.localdate()
        results = []
        for path in files:
            try:
                data = parse(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, RunbookFormatError) as error:
                self.stderr.write(f"{path}: {error}")
                results.append((str(path), None))
                continue
            interval = _review_interval(data.review_interval, 0) or None
            results.append((str(path), runbook_completeness(data, review_interval_days=interval, today=today)))
        if all:
            for runbook in Runbook.objects.prefetch_related("services", "steps").order_by("slug"):
                results.append(
                    (f"/runbooks/{runbook.slug}/", selectors.runbook_completeness_get(runbook=runbook, today=today))
                )
        below = 0
        for name, result in results:
            if result is None:
                below += 1
                continue
            self.stdout.write(f"{result.score:3d}  {name}")
            for finding in result.findings:
                self.stdout.write(f"     - {finding.code}: {finding.message}")
            if result.score < min_score:
                below += 1
        if below:
            self.stderr.write(f"{below} of {len(results)} runbooks below {min_score} (or unreadable).")
            sys.exit(1)
