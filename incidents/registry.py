"""How the apps built on incidents plug into it, so incidents imports none of them. Each app
registers from its own AppConfig.ready(); reading an app's apps.py shows everything it adds.
Registration order is INSTALLED_APPS order."""

from collections.abc import Callable

EventHandler = Callable[..., None]
DemoDataStep = Callable[[], str | None]
Sweep = Callable[[], object]
StandIns = Callable[..., dict]

_event_handlers: list[EventHandler] = []
_demo_data_steps: list[DemoDataStep] = []
_page_panels: dict[str, list[str]] = {"main": [], "side": [], "header": [], "dashboard": []}
_page_data: list[str] = ["incidents"]
_sweeps: list[Sweep] = []
_stand_ins: list[StandIns] = []


def _add(registered: list, item) -> None:
    # ready() may run twice (a test runner that sets Django up again): register once.
    if item not in registered:
        registered.append(item)


def register_event_handler(handler: EventHandler) -> None:
    """`handler(event=TimelineEvent)` runs for every new timeline event, inside the transaction
    that wrote it: what it writes commits or rolls back with the event."""
    _add(_event_handlers, handler)


def event_handlers() -> list[EventHandler]:
    return list(_event_handlers)


def register_demo_data(step: DemoDataStep) -> None:
    """An idempotent step of `manage.py load_demo_data`, run after the incidents' own demo data.
    It returns a line to print (a token shown once) or None."""
    _add(_demo_data_steps, step)


def demo_data_steps() -> list[DemoDataStep]:
    return list(_demo_data_steps)


def register_page_panel(*, place: str, template: str) -> None:
    """A template included in the incident page, in the main column or the side column; it gets
    the page's context (the incident, the user). place="header": under every page's header
    (for signed-in readers), place="dashboard": on the dashboard. Both are parts of cached pages,
    so what differs per reader is fetched by htmx."""
    _add(_page_panels[place], template)


def page_panels(place: str) -> list[str]:
    return list(_page_panels[place])


def register_page_data(name: str) -> None:
    """The cached dashboard and incident page show this app's data: their cache key includes the
    app's version (config.versions), which every write of the app bumps."""
    _add(_page_data, name)


def page_data() -> list[str]:
    return list(_page_data)


def register_sweep(sweep: Sweep) -> None:
    """`sweep()` runs on every beat of the reminder sweep (incidents.tasks.sweep_reminders), after
    the reminders' own, in its own transaction: an app's due work (pages) rides the same beat."""
    _add(_sweeps, sweep)


def sweeps() -> list[Sweep]:
    return list(_sweeps)


def register_reminder_stand_ins(stand_ins: StandIns) -> None:
    """`stand_ins(incident_ids=[…], at=datetime) → {incident_id: [users]}`: who takes a status-update
    reminder in place of an incident lead that is not a person (the alerts account), e.g. whoever
    is on call for the incident's services. No reminder goes to a bot."""
    _add(_stand_ins, stand_ins)


def reminder_stand_ins(*, incident_ids: list[int], at) -> dict[int, list]:
    found: dict[int, dict] = {}
    for stand_ins in _stand_ins:
        for incident_id, users in stand_ins(incident_ids=incident_ids, at=at).items():
            found.setdefault(incident_id, {}).update({user.pk: user for user in users})
    return {incident_id: list(users.values()) for incident_id, users in found.items()}
