"""The runbooks' part of `load_demo_data`: runbooks for the demo services, written in the seeds'
format (runbooks/demo/*.md) — one names the alert the integrations demo fires, so its incident
starts with the checklist. The seed templates themselves are not loaded: their placeholders
("[Service/System Name]") would turn up in search and suggestions as if they were runbooks.
Idempotent, like the rest of the demo data."""

from pathlib import Path

from django.contrib.auth import get_user_model

from runbooks import services

RUNBOOKS = Path(__file__).parent / "demo"


def load_demo_runbooks(*, username: str = "lead") -> int:
    actor = get_user_model().objects.filter(username=username).first()
    texts = [path.read_text(encoding="utf-8") for path in sorted(RUNBOOKS.glob("*.md"))]
    return len(services.runbooks_demo_load(actor=actor, templates=texts).created)


def demo_data_load() -> str | None:
    """load_demo_data's step (registered in RunbooksConfig.ready)."""
    created = load_demo_runbooks()
    return f"Demo runbooks added: {created}." if created else None
