"""factory_boy factories for the whole project. Reference data (tiers, programs, categories) comes from
the migrations, so factories look it up rather than invent it."""

import datetime

import factory
from django.contrib.auth.models import Group
from django.utils import timezone

from apn_portal.accounts.choices import StaffRole
from apn_portal.accounts.models import User
from partners.choices import CertificationLevel, EnrollmentStatus, PartnerType, ProgramKind
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
        _add_roles(self, extracted or [])


def _add_roles(user, roles):
    for role in roles:
        user.groups.add(Group.objects.get(name=StaffRole(role).value))


class PdmFactory(StaffUserFactory):
    # A post-generation hook, not a plain default: `roles` is no field of the user model.
    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        _add_roles(self, [StaffRole.PDM] if extracted is None else extracted)


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


class ProgramFactory(factory.django.DjangoModelFactory):
    """A program of one's own, when a test needs settings the seeded programs do not have."""

    class Meta:
        model = Program

    name = factory.Sequence(lambda n: f"Test Program {n}")
    slug = factory.Sequence(lambda n: f"test-program-{n}")
    kind = ProgramKind.OTHER
    competency_category = ""
    audit_required = False
    validity_months = 12


def give_select_evidence(partner):
    """Exactly what the default consulting Select tier asks for: 2 foundational, 2 technical, 3 projects."""
    give_certified_people(partner, CertificationLevel.FOUNDATIONAL, 2)
    give_certified_people(partner, CertificationLevel.ASSOCIATE, 2)
    CustomerReferenceFactory.create_batch(3, partner=partner)


def give_advanced_evidence(partner):
    """Exactly the default consulting Advanced numbers: 4 foundational, 6 technical (3 professional), 20
    projects."""
    give_certified_people(partner, CertificationLevel.FOUNDATIONAL, 4)
    give_certified_people(partner, CertificationLevel.ASSOCIATE, 3)
    give_certified_people(partner, CertificationLevel.PROFESSIONAL, 3)
    CustomerReferenceFactory.create_batch(20, partner=partner)


def give_premier_people_and_projects(partner):
    """The default consulting Premier numbers except programs: 10 foundational, 25 technical (10
    professional), 50 projects. Ten people hold both a foundational and a professional certification."""
    for person in StaffMemberFactory.create_batch(10, partner=partner):
        CertificationFactory(staff_member=person, level=CertificationLevel.FOUNDATIONAL)
        CertificationFactory(staff_member=person, level=CertificationLevel.PROFESSIONAL)
    give_certified_people(partner, CertificationLevel.ASSOCIATE, 15)
    CustomerReferenceFactory.create_batch(50, partner=partner)


# Customers, accounts and engagements (engagements/) ------------------------------------------------------


class AccountManagerFactory(StaffUserFactory):
    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        _add_roles(self, extracted or [StaffRole.ACCOUNT_MANAGER])


class SolutionsArchitectFactory(StaffUserFactory):
    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        _add_roles(self, extracted or [StaffRole.SOLUTIONS_ARCHITECT])


class TamFactory(StaffUserFactory):
    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        _add_roles(self, extracted or [StaffRole.TAM])


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "engagements.Customer"

    name = factory.Sequence(lambda n: f"Customer {n} plc")
    slug = factory.Sequence(lambda n: f"customer-{n}")
    time_zone = "Europe/London"


class CustomerUserFactory(UserFactory):
    """A customer's own staff. `access_admin=True` also makes them one of its access administrators."""

    customer = factory.SubFactory(CustomerFactory)

    @factory.post_generation
    def access_admin(self, create, extracted, **kwargs):
        if create and extracted:
            self.customer.access_administrators.add(self)


class AwsAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "engagements.AwsAccount"

    customer = factory.SubFactory(CustomerFactory)
    account_id = factory.Sequence(lambda n: f"{n + 100000000:012d}")
    name = factory.Sequence(lambda n: f"workload-{n}")


class EngagementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "engagements.Engagement"

    customer = factory.SubFactory(CustomerFactory)
    title = factory.Sequence(lambda n: f"Migration {n}")
    workload = "WordPress site"
    status = "active"


class EngagementPartnerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "engagements.EngagementPartner"

    engagement = factory.SubFactory(EngagementFactory)
    partner = factory.SubFactory(PartnerFactory)
    role = "consulting_lead"
    contract_start = factory.LazyFunction(lambda: timezone.localdate() - datetime.timedelta(days=30))
    contract_end = factory.LazyFunction(lambda: timezone.localdate() + datetime.timedelta(days=335))


class AccessGrantFactory(factory.django.DjangoModelFactory):
    """A live grant; its account belongs to the customer of the engagement the partner is on."""

    class Meta:
        model = "engagements.AccessGrant"

    engagement_partner = factory.SubFactory(EngagementPartnerFactory)
    account = factory.LazyAttribute(
        lambda g: AwsAccountFactory(customer=g.engagement_partner.engagement.customer)
    )
    role_name = factory.Sequence(lambda n: f"PartnerOps{n}")
    role_arn = factory.LazyAttribute(lambda g: f"arn:aws:iam::{g.account.account_id}:role/{g.role_name}")
    scope = "operations"
    granted_by = factory.LazyAttribute(
        lambda g: CustomerUserFactory(customer=g.engagement_partner.engagement.customer)
    )
    expires_at = factory.LazyFunction(lambda: timezone.now() + datetime.timedelta(days=30))


# Support plans, subscriptions and cases (support/) ---------------------------------------------------------


def support_plan(slug: str):
    """One of the plans migration support 0002 seeds: basic, developer, business, business-support-plus,
    enterprise-on-ramp, enterprise."""
    from support.models import SupportPlan

    return SupportPlan.objects.get(slug=slug)


class SupportPlanFactory(factory.django.DjangoModelFactory):
    """A plan besides the seeded ones (support_plan): business hours, no TAM, offered since 2020."""

    class Meta:
        model = "support.SupportPlan"

    name = factory.Sequence(lambda n: f"Plan {n}")
    slug = factory.Sequence(lambda n: f"plan-{n}")
    rank = factory.Sequence(lambda n: 100 + n)
    trusted_advisor = "core"
    technical_support_hours = "business_hours"
    available_from = datetime.date(2020, 1, 1)


class SupportEngineerFactory(StaffUserFactory):
    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        _add_roles(self, extracted or [StaffRole.SUPPORT_ENGINEER])


class StaffCertificationFactory(factory.django.DjangoModelFactory):
    """A provider staff member's certification: by default the associate Solutions Architect one of a TAM."""

    class Meta:
        model = "support.StaffCertification"

    user = factory.SubFactory(TamFactory)
    track = "solutions_architect"
    level = CertificationLevel.ASSOCIATE
    name = "Solutions Architect - Associate"
    earned_on = factory.LazyFunction(lambda: timezone.localdate() - datetime.timedelta(days=200))


class QualifiedTamFactory(TamFactory):
    """A TAM holding a current associate-level Solutions Architect certification."""

    @factory.post_generation
    def certified(self, create, extracted, **kwargs):
        if create:
            StaffCertificationFactory(user=self)


class SupportSubscriptionFactory(factory.django.DjangoModelFactory):
    """Written straight to the table (no service): `plan` is a slug or a plan."""

    class Meta:
        model = "support.SupportSubscription"

    customer = factory.SubFactory(CustomerFactory)
    plan = factory.LazyFunction(lambda: support_plan("business"))
    tam_coverage = factory.LazyAttribute(
        lambda s: (support_plan(s.plan) if isinstance(s.plan, str) else s.plan).tam_coverage
    )
    change = "started"
    # Subscribed a month ago, so cases opened on a frozen clock of the last few weeks fall under it.
    started_at = factory.LazyFunction(lambda: timezone.now() - datetime.timedelta(days=30))

    @classmethod
    def _adjust_kwargs(cls, **kwargs):
        if isinstance(kwargs.get("plan"), str):
            kwargs["plan"] = support_plan(kwargs["plan"])
        return kwargs
