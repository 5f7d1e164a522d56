"""The engagement lifecycle through its services: who may grant and revoke access and on what terms, the
partner replacement, the stage order, completion, and leads becoming engagements."""

import datetime
import re
import zoneinfo
from html import unescape

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from apn_portal.exceptions import ConflictError, DomainError, PermissionDeniedError
from apn_portal.outbox.models import OutboxMessage
from engagements import services
from engagements.choices import AccessScope, EngagementStage, EngagementStatus, PartnerRole
from engagements.models import AccessGrant, Customer, Engagement, EngagementPartner
from partners.choices import ContactRequestStatus, PartnerType
from partners.services import customer_reference_set_validated
from tests.factories import (
    AccessGrantFactory,
    AccountManagerFactory,
    ApprovedEnrollmentFactory,
    AwsAccountFactory,
    ContactRequestFactory,
    CustomerFactory,
    CustomerUserFactory,
    EngagementFactory,
    EngagementPartnerFactory,
    PartnerFactory,
    PartnerUserFactory,
    PdmFactory,
    program,
)

pytestmark = pytest.mark.django_db


def today():
    return timezone.localdate()


def days(n):
    return datetime.timedelta(days=n)


def arn(account, name="PartnerOps"):
    return f"arn:aws:iam::{account.account_id}:role/{name}"


@pytest.fixture
def setup():
    """A customer with an access administrator, an account, and a consulting partner engaged for it."""
    customer = CustomerFactory(name="Acme Ministry", time_zone="Europe/London")
    admin = CustomerUserFactory(customer=customer, access_admin=True)
    account = AwsAccountFactory(customer=customer, account_id="012345678901")
    engaged = EngagementPartnerFactory(engagement=EngagementFactory(customer=customer))
    return customer, admin, account, engaged


def grant(user, account, engaged, **kwargs):
    kwargs.setdefault("role_arn", arn(account))
    kwargs.setdefault("scope", AccessScope.OPERATIONS)
    return services.access_grant_create(user=user, account=account, engagement_partner=engaged, **kwargs)


# Granting ---------------------------------------------------------------------------------------------


def test_access_administrator_grants_until_the_contract_ends(setup):
    _customer, admin, account, engaged = setup
    created = grant(admin, account, engaged)
    assert created.role_name == "PartnerOps"
    assert created.granted_by == admin and created.mfa_required
    # By default the grant lasts to the end of the contract's last day, in the customer's time zone.
    end_of_contract = datetime.datetime.combine(
        engaged.contract_end + days(1), datetime.time.min, tzinfo=zoneinfo.ZoneInfo("Europe/London")
    )
    assert created.expires_at == end_of_contract
    assert created.is_live()


@pytest.mark.parametrize(
    "who",
    [
        "customer staff who is not an access administrator",
        "another customer's access administrator",
        "the partner itself",
        "the customer's account manager",
    ],
)
def test_only_the_customers_own_access_administrators_grant(setup, who):
    customer, _admin, account, engaged = setup
    user = {
        "customer staff who is not an access administrator": lambda: CustomerUserFactory(customer=customer),
        "another customer's access administrator": lambda: CustomerUserFactory(access_admin=True),
        "the partner itself": lambda: PartnerUserFactory(partner=engaged.partner),
        "the customer's account manager": lambda: _assigned_am(customer),
    }[who]()
    with pytest.raises(PermissionDeniedError, match="Only Acme Ministry's own access administrators"):
        grant(user, account, engaged)
    assert not AccessGrant.objects.exists()


def _assigned_am(customer):
    am = AccountManagerFactory()
    Customer.objects.filter(pk=customer.pk).update(account_manager=am)
    return am


def test_only_a_partner_engaged_for_that_customer(setup):
    _customer, admin, account, _engaged = setup
    elsewhere = EngagementPartnerFactory(partner=PartnerFactory(name="Stranger Ltd"))
    with pytest.raises(DomainError, match="Stranger Ltd is not engaged for Acme Ministry"):
        grant(admin, account, elsewhere)


def test_only_on_the_customers_own_accounts(setup):
    _customer, admin, _account, engaged = setup
    their_account = AwsAccountFactory()
    with pytest.raises(PermissionDeniedError):
        grant(admin, their_account, engaged)


@pytest.mark.parametrize(
    ("role_arn", "message"),
    [
        ("arn:aws:iam::999999999999:role/PartnerOps", "names account 999999999999, but the grant is on"),
        ("arn:aws:iam::12345678901:role/PartnerOps", "arn:aws:iam::<12-digit account id>:role/<role name>"),
        ("arn:aws:iam::012345678901:user/PartnerOps", "arn:aws:iam::<12-digit account id>:role/<role name>"),
        ("PartnerOps", "arn:aws:iam::<12-digit account id>:role/<role name>"),
    ],
)
def test_bad_role_arns_are_refused_with_a_clear_message(setup, role_arn, message):
    _customer, admin, account, engaged = setup
    with pytest.raises(DomainError, match=message.replace("<", r"\<").replace(":", ":")) as refused:
        grant(admin, account, engaged, role_arn=role_arn)
    assert refused.value.field in ("role_arn", "role_name")


def test_role_name_must_match_the_arn(setup):
    _customer, admin, account, engaged = setup
    with pytest.raises(DomainError, match="ends in 'PartnerOps', not the role name 'Finance'"):
        grant(admin, account, engaged, role_name="Finance")


def test_grant_cannot_outlive_the_contract(setup):
    _customer, admin, account, engaged = setup
    later = timezone.now() + days(400)
    with pytest.raises(DomainError, match=r"contract ends on .*the grant must expire by then") as refused:
        grant(admin, account, engaged, expires_at=later)
    assert refused.value.field == "expires_at"


def test_no_grant_before_the_contract_starts_or_after_it_ended(setup):
    customer, admin, account, _engaged = setup
    future = EngagementPartnerFactory(
        engagement=EngagementFactory(customer=customer),
        contract_start=today() + days(10),
        contract_end=today() + days(100),
    )
    with pytest.raises(DomainError, match="access is granted only while it is in force"):
        grant(admin, account, future)


def test_administration_needs_mfa_and_duplicates_conflict(setup):
    _customer, admin, account, engaged = setup
    with pytest.raises(DomainError, match="always requires the customer's MFA"):
        grant(admin, account, engaged, scope=AccessScope.ADMINISTRATION, mfa_required=False)
    grant(admin, account, engaged)
    with pytest.raises(ConflictError, match="already holds role PartnerOps on account 012345678901"):
        grant(admin, account, engaged)


# Revoking ---------------------------------------------------------------------------------------------


def test_revoke_needs_a_reason_and_is_recorded(setup):
    _customer, admin, account, engaged = setup
    held = grant(admin, account, engaged)
    with pytest.raises(DomainError, match="Say why"):
        services.access_grant_revoke(user=admin, grant=held, reason="  ")
    services.access_grant_revoke(user=admin, grant=held, reason="Security review")
    held.refresh_from_db()
    assert held.revoked_by == admin and held.revocation_reason == "Security review"
    assert not held.is_live()
    with pytest.raises(ConflictError, match="already revoked"):
        services.access_grant_revoke(user=admin, grant=held, reason="again")


def test_revoking_twice_says_when_on_the_customers_calendar():
    customer = CustomerFactory(time_zone="Asia/Tokyo")
    admin = CustomerUserFactory(customer=customer, access_admin=True)
    account = AwsAccountFactory(customer=customer)
    held = grant(admin, account, EngagementPartnerFactory(engagement=EngagementFactory(customer=customer)))
    # Revoked at 20:00 UTC: 05:00 the next day in Tokyo.
    evening = datetime.datetime.combine(today() + days(1), datetime.time(20), tzinfo=datetime.UTC)
    with time_machine.travel(evening, tick=False):
        services.access_grant_revoke(user=admin, grant=held, reason="Security review")
    with (
        time_machine.travel(evening + datetime.timedelta(minutes=1), tick=False),
        pytest.raises(ConflictError) as refused,
    ):
        services.access_grant_revoke(user=admin, grant=held, reason="again")
    tokyo_day = today() + days(2)
    assert refused.value.message == f"This access was already revoked on {tokyo_day:%d %b %Y} 05:00 (JST)."


def test_provider_staff_looking_after_the_customer_may_revoke_but_partners_may_not(setup):
    customer, admin, account, engaged = setup
    held = grant(admin, account, engaged)
    for outsider in (
        PartnerUserFactory(partner=engaged.partner),
        CustomerUserFactory(access_admin=True),
        AccountManagerFactory(),  # an AM, but not this customer's
    ):
        with pytest.raises(PermissionDeniedError):
            services.access_grant_revoke(user=outsider, grant=held, reason="no")
    services.access_grant_revoke(user=_assigned_am(customer), grant=held, reason="Incident response")
    held.refresh_from_db()
    assert held.is_revoked


def test_the_access_ended_email_a_pdm_receives_for_a_partner_with_nobody_signed_up_says_why(setup):
    """With no user of its own, the partner's news goes to its PDM, who passes it on: the email says so and
    links the partner's admin page, as the portal's other emails sent to the PDM instead do."""
    _customer, admin, account, engaged = setup
    engaged.partner.pdm = PdmFactory(email="pdm.mei@provider.example")
    engaged.partner.save()
    held = grant(admin, account, engaged)

    services.access_grant_revoke(user=admin, grant=held, reason="Security review")

    email = OutboxMessage.objects.get(dedupe_key=f"grant-revoked:{held.pk}:partner")
    assert email.to == ["pdm.mei@provider.example"]
    note = f"{engaged.partner.name} has nobody signed up to the portal yet, so this comes to you, its Partner"
    admin_page = reverse("admin:partners_partner_change", args=[engaged.partner.pk])
    text = re.sub(r"\s+", " ", email.body_text)
    html = re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", email.body_html)))
    assert note in text and note in html
    assert admin_page in email.body_text and admin_page in email.body_html


def test_the_access_ended_email_to_the_partners_staff_has_no_note_for_the_pdm(setup):
    _customer, admin, account, engaged = setup
    engaged.partner.pdm = PdmFactory(email="pdm.mei@provider.example")
    engaged.partner.save()
    PartnerUserFactory(partner=engaged.partner, email="ops@partner.example")
    held = grant(admin, account, engaged)

    services.access_grant_revoke(user=admin, grant=held, reason="Security review")

    email = OutboxMessage.objects.get(dedupe_key=f"grant-revoked:{held.pk}:partner")
    assert email.to == ["ops@partner.example"]
    assert "nobody signed up" not in email.body_text and "Partner Development Manager" not in email.body_text
    assert "nobody signed up" not in email.body_html


# Replacing a partner ----------------------------------------------------------------------------------


def test_replacement_ends_the_contract_revokes_every_grant_and_lets_the_new_partner_in(setup):
    customer, admin, account, engaged = setup
    second_account = AwsAccountFactory(customer=customer)
    grants = [
        grant(admin, account, engaged),
        grant(admin, second_account, engaged, role_arn=arn(second_account)),
    ]
    untouched = AccessGrantFactory()  # another customer's grant to the same partner stays
    winner = PartnerFactory(name="Winner Ltd")

    new = services.engagement_partner_replace(
        user=admin,
        engagement_partner=engaged,
        new_partner=winner,
        reason="Lost the 2027 procurement",
        contract_end=today() + days(700),
    )

    engaged.refresh_from_db()
    assert engaged.replaced_by == new and engaged.contract_end == today()
    assert engaged.ended_reason == "Lost the 2027 procurement"
    for old in grants:
        old.refresh_from_db()
        assert old.is_revoked and old.revoked_by == admin
        assert old.revocation_reason == "Contract ended: Lost the 2027 procurement"
    untouched.refresh_from_db()
    assert not untouched.is_revoked
    assert new.partner == winner and new.role == engaged.role
    with pytest.raises(DomainError, match="was replaced"):
        grant(admin, account, engaged, role_arn=arn(account, "Again"))
    assert grant(admin, account, new, role_arn=arn(account, "WinnerOps")).is_live()


def test_replacement_is_all_or_nothing(setup):
    _customer, admin, account, engaged = setup
    held = grant(admin, account, engaged)
    technology = PartnerFactory(partner_type=PartnerType.TECHNOLOGY, name="Gadget Inc")
    with pytest.raises(DomainError, match="Gadget Inc is a Technology partner"):
        services.engagement_partner_replace(
            user=admin, engagement_partner=engaged, new_partner=technology, reason="x", contract_end=today()
        )
    held.refresh_from_db()
    engaged.refresh_from_db()
    assert not held.is_revoked and engaged.replaced_by is None and engaged.contract_end > today()


def test_only_the_customers_access_administrators_replace(setup):
    customer, _admin, _account, engaged = setup
    for user in (CustomerUserFactory(customer=customer), PartnerUserFactory(partner=engaged.partner)):
        with pytest.raises(PermissionDeniedError):
            services.engagement_partner_replace(
                user=user,
                engagement_partner=engaged,
                new_partner=PartnerFactory(),
                reason="x",
                contract_end=today(),
            )


# Partners and their roles -----------------------------------------------------------------------------


def test_partner_roles_fit_the_partner(setup):
    _customer, admin, _account, engaged = setup
    engagement = engaged.engagement
    add = dict(user=admin, engagement=engagement, contract_start=today(), contract_end=today() + days(90))
    with pytest.raises(DomainError, match="a technology role needs a Technology partner"):
        services.engagement_partner_add(partner=PartnerFactory(), role=PartnerRole.TECHNOLOGY, **add)
    with pytest.raises(DomainError, match="not an approved Solution Provider"):
        services.engagement_partner_add(partner=PartnerFactory(), role=PartnerRole.RESELLER, **add)
    reseller = PartnerFactory()
    ApprovedEnrollmentFactory(partner=reseller, program=program("solution-provider"))
    services.engagement_partner_add(partner=reseller, role=PartnerRole.RESELLER, territory="Africa", **add)
    with pytest.raises(ConflictError, match="already reseller"):
        services.engagement_partner_add(partner=reseller, role=PartnerRole.RESELLER, **add)
    with pytest.raises(DomainError, match="cannot end before it starts"):
        services.engagement_partner_add(
            partner=PartnerFactory(),
            role=PartnerRole.CONSULTING_LEAD,
            **{**add, "contract_end": today() - days(1)},
        )
    with pytest.raises(PermissionDeniedError):
        services.engagement_partner_add(
            partner=PartnerFactory(),
            role=PartnerRole.CONSULTING_LEAD,
            **{**add, "user": CustomerUserFactory()},
        )


# Stages -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", EngagementStage.values)
def test_the_first_step_recorded_says_what_it_is_whatever_the_engagement_starts_at(setup, stage):
    customer, admin, _account, _engaged = setup
    engagement = services.engagement_create(
        user=admin, customer=customer, title="Licensing", workload="Licensing service", stage=stage
    )

    note = engagement.stage_events.get().note
    if stage == EngagementStage.ON_PREMISES:
        assert note == "Where the engagement starts."
    else:
        # Not "Where the engagement starts.": it had come this far before anyone recorded it.
        assert note == (
            "Where the engagement stood when it was recorded here: the steps before "
            f"{EngagementStage(stage).label} were not recorded."
        )


@pytest.mark.parametrize("stage", EngagementStage.values)
def test_an_engagement_recorded_already_under_way_is_active_as_a_step_reached_makes_it(setup, stage):
    customer, admin, _account, _engaged = setup

    engagement = services.engagement_create(
        user=admin, customer=customer, title="Licensing", workload="Licensing service", stage=stage
    )

    expected = EngagementStatus.PROPOSED if stage == EngagementStage.ON_PREMISES else EngagementStatus.ACTIVE
    assert engagement.status == expected
    assert Engagement.objects.get(pk=engagement.pk).status == expected


def test_stages_advance_in_order_with_dates(setup):
    customer, admin, _account, _engaged = setup
    engagement = services.engagement_create(
        user=admin,
        customer=customer,
        title="WordPress",
        workload="WordPress site",
        reached_on=today() - days(20),
    )
    assert engagement.status == EngagementStatus.PROPOSED
    with pytest.raises(DomainError, match="Operated cannot come before Copy moved to a region"):
        services.engagement_stage_advance(
            user=admin, engagement=engagement, to_stage=EngagementStage.OPERATED
        )
    with pytest.raises(DomainError, match="cannot be reached before Workload on premises"):
        services.engagement_stage_advance(user=admin, engagement=engagement, reached_on=today() - days(30))
    with pytest.raises(DomainError, match="not in advance"):
        services.engagement_stage_advance(user=admin, engagement=engagement, reached_on=today() + days(1))
    services.engagement_stage_advance(user=admin, engagement=engagement, reached_on=today() - days(10))
    assert engagement.stage == EngagementStage.COPIED and engagement.status == EngagementStatus.ACTIVE
    with pytest.raises(DomainError, match="Operated cannot come before Re-hosted"):
        services.engagement_stage_advance(
            user=admin, engagement=engagement, to_stage=EngagementStage.OPERATED
        )
    for _ in range(3):
        services.engagement_stage_advance(user=admin, engagement=engagement)
    assert engagement.stage == EngagementStage.OPERATED
    assert [event.stage for event in engagement.stage_events.order_by("reached_on", "id")] == list(
        EngagementStage
    )
    with pytest.raises(ConflictError, match="reached the last step"):
        services.engagement_stage_advance(user=admin, engagement=engagement)


def test_who_moves_an_engagement_along(setup):
    _customer, _admin, _account, engaged = setup
    engagement = engaged.engagement
    services.engagement_stage_advance(user=PartnerUserFactory(partner=engaged.partner), engagement=engagement)
    technology = EngagementPartnerFactory(
        engagement=engagement, partner=PartnerFactory(partner_type=PartnerType.TECHNOLOGY), role="technology"
    )
    for outsider in (
        PartnerUserFactory(partner=technology.partner),
        PartnerUserFactory(),
        CustomerUserFactory(),
    ):
        with pytest.raises(PermissionDeniedError):
            services.engagement_stage_advance(user=outsider, engagement=engagement)


# Completion -------------------------------------------------------------------------------------------


def test_completion_gives_the_consulting_partner_a_reference_its_pdm_validates(setup):
    _customer, admin, _account, engaged = setup
    engagement = engaged.engagement
    services.engagement_complete(user=admin, engagement=engagement)
    engagement.refresh_from_db()
    assert engagement.status == EngagementStatus.COMPLETED and engagement.completed_on == today()
    reference = engagement.customer_reference
    assert reference.partner == engaged.partner and reference.customer_name == "Acme Ministry"
    assert not reference.is_validated
    with pytest.raises(ConflictError, match="is completed"):
        services.engagement_complete(user=admin, engagement=engagement)
    pdm = PdmFactory()
    engaged.partner.pdm = pdm
    engaged.partner.save()
    assert customer_reference_set_validated(reference=reference, validated=True, user=pdm)
    reference.refresh_from_db()
    assert reference.is_validated


def test_completion_is_dated_once_the_work_is_done_not_in_advance(setup):
    """The reference's launch date comes from the completion: neither in the future nor before the
    journey's last recorded step."""
    _customer, admin, _account, engaged = setup
    engagement = engaged.engagement
    services.engagement_stage_advance(user=admin, engagement=engagement, reached_on=today() - days(5))
    with pytest.raises(DomainError, match="completed once the work is done, not in advance") as refused:
        services.engagement_complete(user=admin, engagement=engagement, completed_on=today() + days(400))
    assert refused.value.field == "completed_on"
    with pytest.raises(DomainError, match=r"cannot be completed before it reached Copy moved to a region"):
        services.engagement_complete(user=admin, engagement=engagement, completed_on=today() - days(6))
    engagement.refresh_from_db()
    assert engagement.status != EngagementStatus.COMPLETED and engagement.customer_reference is None
    services.engagement_complete(user=admin, engagement=engagement, completed_on=today() - days(5))
    assert engagement.customer_reference.launched_on == today() - days(5)


# Leads ------------------------------------------------------------------------------------------------


def test_a_lead_becomes_an_engagement_for_a_new_customer():
    lead = ContactRequestFactory(company="Blue Sky Charity", name="Ada Lovelace")
    partner_user = PartnerUserFactory(partner=lead.partner)
    engagement = services.engagement_create_from_contact_request(
        user=partner_user,
        contact_request=lead,
        workload="WordPress site",
        contract_start=today(),
        contract_end=today() + days(180),
    )
    lead.refresh_from_db()
    assert lead.status == ContactRequestStatus.ACCEPTED
    assert engagement.customer.name == "Blue Sky Charity" and engagement.contact_request == lead
    lead_partner = engagement.engagement_partners.get()
    assert lead_partner.partner == lead.partner and lead_partner.role == PartnerRole.CONSULTING_LEAD
    assert engagement.team_members.get().name == "Ada Lovelace"
    with pytest.raises(ConflictError, match="already an engagement"):
        services.engagement_create_from_contact_request(
            user=partner_user,
            contact_request=lead,
            workload="x",
            contract_start=today(),
            contract_end=today(),
        )


def test_a_lead_is_the_receiving_partners_to_convert():
    lead = ContactRequestFactory()
    for outsider in (PartnerUserFactory(), CustomerUserFactory(), AccountManagerFactory()):
        with pytest.raises(PermissionDeniedError):
            services.engagement_create_from_contact_request(
                user=outsider,
                contact_request=lead,
                workload="x",
                contract_start=today(),
                contract_end=today(),
            )
    with pytest.raises(PermissionDeniedError, match="cannot attach a lead to an existing customer"):
        services.engagement_create_from_contact_request(
            user=PartnerUserFactory(partner=lead.partner),
            contact_request=lead,
            customer=CustomerFactory(),
            workload="x",
            contract_start=today(),
            contract_end=today(),
        )
    assert not EngagementPartner.objects.exists()


def test_a_declined_lead_does_not_become_work():
    lead = ContactRequestFactory(status=ContactRequestStatus.DECLINED, decline_reason="Out of scope")
    with pytest.raises(DomainError, match="was declined"):
        services.engagement_create_from_contact_request(
            user=PartnerUserFactory(partner=lead.partner),
            contact_request=lead,
            workload="x",
            contract_start=today(),
            contract_end=today(),
        )


# Accounts ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("account_id", "message"),
    [
        ("12345678901", "exactly 12 digits"),
        ("1234567890123", "exactly 12 digits"),
        ("12345678901O", "exactly 12 digits"),
        (12345678901, "as a number it would lose its leading zeros"),
    ],
)
def test_bad_account_ids_are_refused_with_a_clear_message(account_id, message):
    customer = CustomerFactory()
    user = CustomerUserFactory(customer=customer)
    with pytest.raises(DomainError, match=message) as refused:
        services.aws_account_create(user=user, customer=customer, account_id=account_id, name="prod")
    assert refused.value.field == "account_id"


def test_accounts_form_a_tree_under_the_management_account():
    customer = CustomerFactory()
    user = CustomerUserFactory(customer=customer)
    management = services.aws_account_create(
        user=user, customer=customer, account_id="0000-1111-2222", name="management"
    )
    assert management.account_id == "000011112222"
    member = services.aws_account_create(
        user=user,
        customer=customer,
        account_id="000011113333",
        name="web",
        management_account=management,
        consolidated_billing=True,
    )
    assert list(management.member_accounts.all()) == [member]
    with pytest.raises(DomainError, match="already registered"):
        services.aws_account_create(user=user, customer=customer, account_id="000011113333", name="dup")
    with pytest.raises(DomainError, match="belongs to another customer"):
        services.aws_account_create(
            user=user,
            customer=customer,
            account_id="000011114444",
            name="x",
            management_account=AwsAccountFactory(),
        )
    with pytest.raises(PermissionDeniedError):
        services.aws_account_create(
            user=CustomerUserFactory(), customer=customer, account_id="000011115555", name="x"
        )


def test_an_operator_can_be_replaced_after_the_project_completed(setup):
    _customer, admin, account, engaged = setup
    services.engagement_complete(user=admin, engagement=engaged.engagement)
    held = grant(admin, account, engaged)
    new = services.engagement_partner_replace(
        user=admin,
        engagement_partner=engaged,
        new_partner=PartnerFactory(),
        reason="Re-tendered",
        contract_end=today(),
    )
    held.refresh_from_db()
    assert held.is_revoked and new.contract_end == today()
