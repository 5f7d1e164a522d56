"""A world that grows, for the tests that hold every page and API endpoint to a constant number of SQL
queries (tests/test_query_bounds.py).

A query per row shows only when there is more than one row and when the count is compared at two sizes.
So the world has anchors, one record of every kind a page can be about, and `grow(n)` adds `n` units,
each of which gives every anchor more of what its pages list (people, offices, accounts, grants, replies,
versions in its history) and adds more of every other record, so that lists of everything grow too.
A page whose query count with twelve units differs from its count with two reads something per row.

Each unit also varies what a page might read once per distinct value, so that a per-row query cannot hide
behind one shared related record: grown partners alternate between the anchor PDM and a new one, grown
customers between the anchor Account Manager and a new one, and most records a unit adds point to people
and partners of its own. Reference data (tiers and their requirements, support plans and their response
targets) does not grow: the migrations seed it and their rules limit it.
"""

import datetime
import itertools

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.auth.models import Group
from django.utils import timezone
from rest_framework.authtoken.models import Token

from apn_portal.checks.models import CheckRun
from apn_portal.outbox.models import OutboxMessage
from apn_portal.webhooks.models import WebhookDelivery, WebhookEndpoint
from engagements.models import (
    EngagementStageEvent,
    MarketplaceSubscription,
    ProfessionalServicesEngagement,
    TeamMember,
)
from partners.choices import PartnerType
from partners.models import ConsultingCategory, ProfileChangeRequest, TierChange
from support import services as support_services
from tests.factories import (
    AccessGrantFactory,
    AccountManagerFactory,
    AwsAccountFactory,
    CertificationFactory,
    ContactRequestFactory,
    CustomerFactory,
    CustomerReferenceFactory,
    CustomerUserFactory,
    EngagementFactory,
    EngagementPartnerFactory,
    IndustryFactory,
    OfficeFactory,
    PartnerFactory,
    PartnerUserFactory,
    PdmFactory,
    ProgramEnrollmentFactory,
    ProgramFactory,
    SolutionsArchitectFactory,
    StaffCertificationFactory,
    StaffMemberFactory,
    StaffUserFactory,
    SuperUserFactory,
    SupportEngineerFactory,
    SupportSubscriptionFactory,
    UseCaseFactory,
    support_plan,
    tier,
)

# Unique values (dedupe keys, event ids, URLs) across every world of a test run.
_unique = itertools.count(1)


def _access_record(model, **fields):
    """A sign-in record of django-axes, as its handlers write them."""
    return model.objects.create(
        user_agent="Mozilla/5.0",
        ip_address="192.0.2.1",
        username=f"someone{next(_unique)}",
        http_accept="text/html",
        path_info="/accounts/login/",
        attempt_time=timezone.now(),
        **fields,
    )


# The record each kind of record's pages are tested on (its change and history pages in the admin, its
# detail in the API), by model label: the one whose related rows `grow` multiplies.
ANCHORS = {
    "accounts.user": "user",
    "auth.group": "group",
    "authtoken.token": "token",
    "authtoken.tokenproxy": "token",
    "axes.accessattempt": "access_attempt",
    "axes.accesslog": "access_log",
    "axes.accessfailurelog": "access_failure",
    "outbox.outboxmessage": "outbox_message",
    "checks.checkrun": "check_run",
    "webhooks.webhookendpoint": "endpoint",
    "webhooks.webhookdelivery": "delivery",
    "partners.partner": "partner",
    "partners.staffmember": "staff_member",
    "partners.certification": "certification",
    "partners.office": "office",
    "partners.customerreference": "reference",
    "partners.contactrequest": "contact",
    "partners.programenrollment": "enrollment",
    "partners.profilechangerequest": "proposal",
    "partners.tierchange": "tier_change",
    "partners.tier": "tier",
    "partners.tierrequirement": "tier_requirement",
    "partners.program": "program",
    "partners.consultingcategory": "category",
    "partners.industry": "industry",
    "partners.usecase": "use_case",
    "engagements.customer": "customer",
    "engagements.awsaccount": "account",
    "engagements.engagement": "engagement",
    "engagements.engagementstageevent": "stage_event",
    "engagements.engagementpartner": "engaged",
    "engagements.accessgrant": "grant",
    "engagements.teammember": "team_member",
    "engagements.professionalservicesengagement": "services",
    "engagements.marketplacesubscription": "marketplace",
    "support.supportplan": "plan",
    "support.supportsubscription": "subscription",
    "support.supportcase": "case",
    "support.staffcertification": "staff_certification",
}


class World:
    """One of everything, each reachable by the people whose pages show it, and `grow` to add more.

    The people: `pdm` looks after `partner`, whose staff `partner_user` is; `am` is the Account Manager of
    `customer`, whose access administrator is `customer_admin` and whose other staff `customer_staff`
    opened `case`, which `engineer` answers; `partner` is on `engagement` for `customer` (`engaged`) and
    holds `grant` to `account`.
    """

    def __init__(self):
        self.superuser = SuperUserFactory(username="world-root")
        self.pdm = PdmFactory(username="world-pdm")
        self.am = AccountManagerFactory(username="world-am")
        self.engineer = SupportEngineerFactory(username="world-engineer")

        # The partner side.
        self.industry, self.use_case = IndustryFactory(), UseCaseFactory()
        self.category = ConsultingCategory.objects.order_by("pk").first()
        self.tier = tier(PartnerType.CONSULTING, "select")
        self.tier_requirement = self.tier.requirements.order_by("pk").first()
        self.program = ProgramFactory(minimum_tier=tier())
        self.partner = PartnerFactory(name="Anchor Partner", slug="anchor", pdm=self.pdm)
        self.partner.industries.add(self.industry)
        self.partner.use_cases.add(self.use_case)
        self.partner.categories.add(self.category)
        self.partner_user = PartnerUserFactory(partner=self.partner, username="world-partner")
        self.staff_member = StaffMemberFactory(partner=self.partner)
        self.certification = CertificationFactory(staff_member=self.staff_member)
        self.office = OfficeFactory(partner=self.partner, is_headquarters=True)
        # Not yet validated, so that the partner can still edit it on its pages.
        self.reference = CustomerReferenceFactory(partner=self.partner, is_validated=False, validated_at=None)
        self.enrollment = ProgramEnrollmentFactory(partner=self.partner, program=self.program)
        self.contact = ContactRequestFactory(partner=self.partner)
        self.proposal = ProfileChangeRequest.objects.create(
            partner=self.partner,
            proposed_by=self.partner_user,
            fields_changed=["website", "industries", "use_cases"],
            website="https://anchor.example.com",
        )
        self.tier_change = TierChange.objects.create(
            partner=self.partner,
            from_tier=tier(),
            to_tier=self.tier,
            reason="Qualified",
            changed_by=self.pdm,
            changed_at=timezone.now(),
        )

        # The customer side.
        self.customer = CustomerFactory(
            name="Anchor Customer", slug="anchor-customer", account_manager=self.am
        )
        self.customer_admin = CustomerUserFactory(
            customer=self.customer, access_admin=True, username="world-customer-admin"
        )
        self.customer_staff = CustomerUserFactory(customer=self.customer, username="world-customer-staff")
        self.account = AwsAccountFactory(customer=self.customer)
        self.engagement = EngagementFactory(customer=self.customer)
        self.stage_event = EngagementStageEvent.objects.create(
            engagement=self.engagement,
            stage="assess",
            reached_on=datetime.date(2025, 1, 1),
            recorded_by=self.am,
        )
        self.engaged = EngagementPartnerFactory(engagement=self.engagement, partner=self.partner)
        self.grant = AccessGrantFactory(
            engagement_partner=self.engaged, account=self.account, granted_by=self.customer_admin
        )
        self.team_member = TeamMember.objects.create(
            engagement=self.engagement, user=self.customer_staff, role="customer_it"
        )
        self.services = self._professional_services(self.partner)
        self.marketplace = MarketplaceSubscription.objects.create(
            engagement=self.engagement, product="Backup", vendor=PartnerFactory(partner_type="technology")
        )
        self.marketplace.accounts.add(self.account)

        # Support.
        self.plan = support_plan("business")
        self.subscription = SupportSubscriptionFactory(customer=self.customer, plan=self.plan)
        self.case = support_services.support_case_open(
            user=self.customer_staff,
            account=self.account,
            subject="Site down",
            description="The load balancer answers 503.",
            severity="production_down",
        )
        self.staff_certification = StaffCertificationFactory()

        # The machinery: webhooks, outbox, checks, tokens, users and groups, sign-in records.
        self.endpoint = WebhookEndpoint.objects.create(
            owner=self.partner_user,
            partner=self.partner,
            url="http://127.0.0.1:8151/anchor",
            events=["partner.tier_changed"],
        )
        self.delivery = self._delivery()
        self.outbox_message = self._outbox_message()
        self.check_run = self._check_run()
        self.token = Token.objects.create(user=self.partner_user)
        self.user = StaffUserFactory(username="world-user")
        self.group = Group.objects.create(name="world-group")
        self.access_attempt = _access_record(AccessAttempt, failures_since_start=1)
        self.access_log = _access_record(AccessLog)
        self.access_failure = _access_record(AccessFailureLog)

    def anchor(self, model):
        """The anchor record of `model` as that model reads it (a proxy model's admin reads the proxy),
        or None if the world has none: a test that needs one fails, naming the model."""
        name = ANCHORS.get(model._meta.label_lower)
        if name is None:
            return None
        return model._default_manager.get(pk=getattr(self, name).pk)

    def grow(self, n: int) -> None:
        """Add `n` units to the world."""
        for _ in range(n):
            self._grow_one(next(_unique))

    def _grow_one(self, i: int) -> None:
        # The anchor partner's people, offices, references, enrollments, tier history, leads, taxonomy.
        person = StaffMemberFactory(partner=self.partner)
        CertificationFactory(staff_member=person)
        CertificationFactory(staff_member=self.staff_member)
        OfficeFactory(partner=self.partner, city=f"City {i}")
        CustomerReferenceFactory(partner=self.partner)
        ProgramEnrollmentFactory(partner=self.partner, program=ProgramFactory(minimum_tier=tier()))
        TierChange.objects.create(
            partner=self.partner,
            from_tier=tier(),
            to_tier=self.tier,
            reason="Qualified",
            changed_by=StaffUserFactory(),
            changed_at=timezone.now(),
        )
        ContactRequestFactory(partner=self.partner)
        industry, use_case = IndustryFactory(), UseCaseFactory()
        self.partner.industries.add(industry)
        self.partner.use_cases.add(use_case)
        self.proposal.industries.add(industry)
        self.proposal.use_cases.add(use_case)

        # Other partners, with theirs, in the anchor taxonomy and program.
        other = PartnerFactory(pdm=self.pdm if i % 2 else PdmFactory())
        other.industries.add(self.industry, industry)
        other.use_cases.add(self.use_case)
        other.categories.add(self.category)
        OfficeFactory(partner=other, is_headquarters=True)
        CertificationFactory(staff_member=StaffMemberFactory(partner=other))
        CustomerReferenceFactory(partner=other)
        ProgramEnrollmentFactory(partner=other, program=self.program)

        # The anchor customer's accounts, engagements, partners on them, grants, team and purchases.
        account = AwsAccountFactory(
            customer=self.customer, management_account=self.account if i % 2 else None
        )
        engaged = EngagementPartnerFactory(engagement=self.engagement, partner=other)
        AccessGrantFactory(engagement_partner=engaged, account=account, granted_by=self.customer_admin)
        AccessGrantFactory(engagement_partner=self.engaged, account=account, granted_by=self.customer_admin)
        TeamMember.objects.create(
            engagement=self.engagement, user=CustomerUserFactory(customer=self.customer), role="customer_it"
        )
        self._professional_services(other)
        self.marketplace.accounts.add(account)
        SupportSubscriptionFactory(customer=self.customer, account=account, plan="developer")
        engagement = EngagementFactory(customer=self.customer)
        EngagementPartnerFactory(engagement=engagement, partner=self.partner)
        # An engagement reaches each stage once: more stage events are more engagements'.
        EngagementStageEvent.objects.create(
            engagement=engagement, stage="assess", reached_on=datetime.date(2025, 1, 1), recorded_by=self.am
        )

        # Other customers, half of them the anchor Account Manager's.
        customer = CustomerFactory(account_manager=self.am if i % 2 else AccountManagerFactory())
        AwsAccountFactory(customer=customer)
        SupportSubscriptionFactory(customer=customer, plan=self.plan)

        # Support: replies on the anchor case, more cases, more certified staff.
        support_services.support_case_reply(user=self.engineer, case=self.case, body=f"Reply {i}")
        support_services.support_case_open(
            user=self.customer_staff,
            account=self.account,
            subject=f"Trouble {i}",
            description="Timeouts.",
            severity="production_down",
        )
        StaffCertificationFactory()

        # The machinery.
        WebhookEndpoint.objects.create(
            owner=self.partner_user,
            partner=self.partner,
            url=f"http://127.0.0.1:8151/{i}",
            events=["partner.tier_changed"],
        )
        self._delivery()
        self._outbox_message()
        self._check_run()
        Token.objects.create(user=PartnerUserFactory())
        self.user.groups.add(Group.objects.create(name=f"world-group-{i}"))
        _access_record(AccessAttempt, failures_since_start=1)
        _access_record(AccessLog)
        _access_record(AccessFailureLog)

        self._new_versions(i)

    def _new_versions(self, i: int) -> None:
        """A version more in the history of every anchor that keeps one, some with a foreign key or a
        many-to-many field changed: a history page shows what each version changed, and names the records
        they point to."""
        self.customer.solutions_architect = SolutionsArchitectFactory()
        self.customer.save()
        self.customer.access_administrators.add(CustomerUserFactory(customer=self.customer))
        self.engagement.created_by = StaffUserFactory()
        self.engagement.save()
        self.services.consultant = StaffUserFactory()
        self.services.save()
        self.partner.description = f"Version {i}"
        self.partner.save()
        for record in (
            self.account,
            self.staff_member,
            self.certification,
            self.office,
            self.reference,
            self.enrollment,
            self.industry,
            self.use_case,
            self.category,
            self.tier,
            self.tier_requirement,
            self.program,
            self.engaged,
            self.grant,
            self.team_member,
            self.plan,
            self.subscription,
            self.staff_certification,
            self.endpoint,
        ):
            record.save()

    def _professional_services(self, buying_partner):
        return ProfessionalServicesEngagement.objects.create(
            engagement=self.engagement,
            bought_by="partner",
            buying_partner=buying_partner,
            consultant=StaffUserFactory(),
            goal="Move the data centre",
            capability_gap="No migration experience",
            starts_on=datetime.date(2025, 1, 1),
        )

    def _delivery(self):
        return WebhookDelivery.objects.create(
            endpoint=self.endpoint, event="partner.tier_changed", event_id=f"{next(_unique):032x}", payload={}
        )

    def _outbox_message(self):
        key = next(_unique)
        return OutboxMessage.objects.create(
            dedupe_key=f"world-{key}",
            to=["a@example.com", "b@example.com"],
            subject=f"Notice {key}",
            body_text=".",
        )

    def _check_run(self):
        return CheckRun.objects.create(
            name="tier_health",
            started_at=timezone.now(),
            finished_at=timezone.now(),
            status="succeeded",
            changed={"partners_promoted": 1},
            summary="One partner promoted.",
        )
