"""How the apps built on incidents plug into it, so incidents imports none of them. Each app
registers from its own AppConfig.ready(); reading an app's apps.py shows everything it adds.
Registration order is INSTALLED_APPS order."""

from collections.abc import Callable

EventHandler = Callable[..., None]
DemoDataStep = Callable[[], str | None]

_event_handlers: list[EventHandler] = []
_demo_data_steps: list[DemoDataStep] = []
_page_panels: dict[str, list[str]] = {"main": [], "side": []}
_page_data: list[str] = ["incidents"]


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
    the page's context (the incident, the user)."""
    _add(_page_panels[place], template)


def page_panels(place: str) -> list[str]:
    return list(_page_panels[place])


def register_page_data(name: str) -> None:
    """The cached dashboard and incident page show this app's data: their cache key includes the
    app's version (config.versions), which every write of the app bumps."""
    _add(_page_data, name)


def page_data() -> list[str]:
    return list(_page_data)
