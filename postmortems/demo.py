"""The postmortems' part of load_demo_data: the resolved demo incidents' postmortems get some
text, a five-whys chain and action items. Idempotent: a postmortem already written is left alone."""

from django.contrib.auth import get_user_model

from postmortems import services
from postmortems.models import Postmortem, Priority


def demo_data_load() -> None:
    users = get_user_model().objects.in_bulk(["lead", "oncall"], field_name="username")
    for postmortem in Postmortem.objects.select_related("incident").filter(root_cause=""):
        owner = postmortem.owner or users["lead"]
        services.postmortem_sections_save(
            postmortem=postmortem,
            actor=owner,
            base_version=postmortem.version,
            sections={
                "root_cause": "A reporting query without an index held connections for minutes; "
                "the pool (20) ran dry under normal traffic.",
                "resolution": "Raised the pool size to 50 and killed the long-running queries.",
                "went_well": "- Alert fired within 2 minutes\n- Clear incident lead from the start",
            },
        )
        services.postmortem_five_why_add(
            postmortem=postmortem, actor=owner, why="Why did the API return 503s?", because="No free DB connections"
        )
        services.postmortem_five_why_add(
            postmortem=postmortem, actor=owner, why="Why were there none?", because="A slow report held them"
        )
        services.action_item_add(
            postmortem=postmortem,
            actor=owner,
            title="Alert when the pool is 80% used",
            owner=users["oncall"],
            priority=Priority.URGENT,
            kind="detect",
        )
        services.action_item_add(
            postmortem=postmortem, actor=owner, title="Index the reporting query", owner=users["lead"], kind="prevent"
        )
