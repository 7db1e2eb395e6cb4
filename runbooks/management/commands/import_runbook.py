from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from runbooks import errors, services
from runbooks.markdown_format import RunbookFormatError


class Command(BaseCommand):
    help = "Import runbooks from Markdown files in the seeds' format (one runbook per file)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("files", nargs="+", type=Path)

    def handle(self, *args, files: list[Path], **options) -> None:
        failed = 0
        for path in files:
            try:
                runbook, unknown = services.runbook_import(text=path.read_text(encoding="utf-8"), actor=None)
            except (OSError, RunbookFormatError, ValidationError) as error:
                failed += 1
                message = "; ".join(error.messages) if isinstance(error, ValidationError) else str(error)
                self.stderr.write(f"{path}: {message}")
                continue
            self.stdout.write(
                f"{path}: imported '{runbook.title}' as /runbooks/{runbook.slug}/ ({runbook.steps.count()} steps)"
            )
            if unknown:
                self.stdout.write(f"  {errors.UNKNOWN_SERVICES.format(names=', '.join(unknown))}")
        if failed:
            raise CommandError(f"{failed} of {len(files)} files not imported.")
