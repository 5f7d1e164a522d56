"""factory_boy factories for the whole project. Reference data (tiers, programs, categories) comes from
the migrations, so factories look it up rather than invent it."""

import datetime

import factory
from django.contrib.auth.models import Group
from django.utils import timezone

from apn_portal.accounts.choices import StaffRole
from apn_portal.accounts.models import User
from partners.choices import CertificationLevel, EnrollmentStatus, PartnerType
from partners.models import (
    Certification,
    ContactRequest,
    CustomerReference,
    Industry,
    Office,
    Partner,
    Program,
    ProgramEnrollment,
    StaffMember,
    Tier,
    UseCase,
)

PASSWORD = "correct-horse-battery-staple"


def tier(partner_type=PartnerType.CONSULTING, slug="registered") -> Tier:
    return Tier.objects.get(partner_type=partner_type, slug=slug)


def program(slug: str) -> Program:
    return Program.objects.get(slug=slug)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.django.Password(PASSWORD)


class StaffUserFactory(UserFactory):
    """Provider staff with roles, e.g. StaffUserFactory(roles=[StaffRole.PDM])."""

    is_staff = True

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        for role in extracted or []:
            self.groups.add(Group.objects.get(name=StaffRole(role).value))


class PdmFactory(StaffUserFactory):
    roles = factory.LazyFunction(lambda: [StaffRole.PDM])


class SuperUserFactory(UserFactory):
    is_staff = True
    is_superuser = True


class IndustryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Industry
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Industry {n}")
    slug = factory.Sequence(lambda n: f"industry-{n}")


class UseCaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = UseCase
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Use case {n}")
    slug = factory.Sequence(lambda n: f"use-case-{n}")


class PartnerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Partner
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Partner {n} Ltd")
    slug = factory.Sequence(lambda n: f"partner-{n}")
    partner_type = PartnerType.CONSULTING
    tier = factory.LazyAttribute(lambda p: tier(p.partner_type, "registered"))
    description = factory.Faker("paragraph")
    website = factory.LazyAttribute(lambda p: f"https://{p.slug}.example.com")
    is_published = True


class PartnerUserFactory(UserFactory):
    """A partner's own staff, signing in to the portal."""

    partner = factory.SubFactory(PartnerFactory)


class OfficeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Office

    partner = factory.SubFactory(PartnerFactory)
    country = "GB"
    city = "London"
    latitude = 51.5074
    longitude = -0.1278
    is_headquarters = False


class StaffMemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StaffMember

    partner = factory.SubFactory(PartnerFactory)
    full_name = factory.Faker("name")
    email = factory.Sequence(lambda n: f"person{n}@partner.example.com")


class CertificationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Certification

    staff_member = factory.SubFactory(StaffMemberFactory)
    name = factory.LazyAttribute(lambda c: f"{c.level.title()} certification")
    level = CertificationLevel.ASSOCIATE
    credential_id = factory.Sequence(lambda n: f"CRED-{n:07d}")
    earned_on = factory.LazyFunction(lambda: timezone.localdate() - datetime.timedelta(days=100))
    expires_on = None  # the model's default: three years after earning


class CustomerReferenceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomerReference

    partner = factory.SubFactory(PartnerFactory)
    customer_name = factory.Faker("company")
    summary = factory.Faker("sentence")
    services_used = "EC2, RDS"
    launched_on = factory.LazyFunction(lambda: timezone.localdate() - datetime.timedelta(days=200))
    is_validated = True
    validated_at = factory.LazyFunction(timezone.now)
    is_public = True


class ProgramEnrollmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProgramEnrollment

    partner = factory.SubFactory(PartnerFactory)
    program = factory.LazyFunction(lambda: program("migration"))
    status = EnrollmentStatus.APPLIED


class ApprovedEnrollmentFactory(ProgramEnrollmentFactory):
    status = EnrollmentStatus.APPROVED
    approved_on = factory.LazyFunction(lambda: timezone.localdate() - datetime.timedelta(days=30))
    expires_on = factory.LazyFunction(lambda: timezone.localdate() + datetime.timedelta(days=335))


class ContactRequestFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContactRequest

    partner = factory.SubFactory(PartnerFactory)
    name = factory.Faker("name")
    email = factory.Sequence(lambda n: f"buyer{n}@customer.example.com")
    company = factory.Faker("company")
    country = "DE"
    message = "We would like to migrate our data centre."


def give_certified_people(partner, level=CertificationLevel.ASSOCIATE, count=1, **cert_kwargs):
    """Add `count` people to a partner, each holding one active certification of `level`."""
    people = StaffMemberFactory.create_batch(count, partner=partner)
    for person in people:
        CertificationFactory(staff_member=person, level=level, **cert_kwargs)
    return people
