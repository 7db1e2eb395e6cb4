import factory
from django.contrib.auth.models import Group, User

from incidents import services
from incidents.models import Incident, Service, SeverityPolicy


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


class ServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Service
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Service {n}")
    slug = factory.Sequence(lambda n: f"service-{n}")
    owning_team = "Platform"


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
