import factory
from django.contrib.auth.models import Group, User

from incidents import services
from incidents.models import Incident, Service, SeverityPolicy, Team


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = factory.django.Password("correct horse battery staple")

    @factory.post_generation
    def role(self, create: bool, extracted: str | None, **kwargs) -> None:
        if create and extracted:
            self.groups.add(Group.objects.get(name=extracted))


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Team {n}")
    slug = factory.Sequence(lambda n: f"team-{n}")


class ServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Service
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Service {n}")
    slug = factory.Sequence(lambda n: f"service-{n}")
    owner_team = factory.SubFactory(TeamFactory, name="Platform", slug="platform")


def declare_incident(
    *, severity: str = "SEV2", declared_by: User | None = None, published: bool = False, **kwargs
) -> Incident:
    """Incidents are made through the service, as in the product, so their timeline is real.
    `published`: its lead also puts it on the status page (as the comms flow does)."""
    declared_by = declared_by or UserFactory(role="responder")
    kwargs.setdefault("title", "Checkout API returns 500s")
    incident = services.incident_declare(
        declared_by=declared_by, severity=SeverityPolicy.objects.get(key=severity), **kwargs
    )
    if published:
        incident = services.incident_publish(incident=incident, actor=incident.lead)
    return incident


def on_call_schedule(*, team: Team | None = None, time_zone: str = "UTC", name: str = "Primary", layers=()):
    """A schedule with its rotations: `layers` is a list of dicts of Rotation fields plus
    `members` (users in turn order)."""
    from oncall.models import Rotation, RotationMember, Schedule

    team = team or Team.objects.get_or_create(slug="platform", defaults={"name": "Platform"})[0]
    slug = f"{team.slug}-{name.lower().replace(' ', '-')}"
    schedule = Schedule.objects.create(team=team, name=name, slug=slug, time_zone=time_zone)
    for position, layer in enumerate(layers):
        fields = {"name": f"Layer {position + 1}", "position": position, **layer}
        members = fields.pop("members")
        rotation = Rotation.objects.create(schedule=schedule, **fields)
        RotationMember.objects.bulk_create(
            RotationMember(rotation=rotation, user=user, position=index) for index, user in enumerate(members)
        )
    return schedule
