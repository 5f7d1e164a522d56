"""The database refuses what breaks an invariant, with a message a person understands: bad account ids and
role ARNs, grants outliving contracts, half-recorded revocations, accounts grouped across customers."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from engagements.models import AccessGrant, AwsAccount, EngagementPartner
from tests.factories import (
    AccessGrantFactory,
    AwsAccountFactory,
    CustomerFactory,
    CustomerUserFactory,
    EngagementPartnerFactory,
    PartnerFactory,
    PartnerUserFactory,
    StaffUserFactory,
)

pytestmark = pytest.mark.django_db


def refused(message_part):
    """The write fails in the database, and the error names the rule."""
    return pytest.raises(IntegrityError, match=message_part)


@pytest.mark.parametrize("bad_id", ["12345678901", "1234567890123", "12345678901a", "1234 5678 901"])
def test_account_id_must_be_twelve_digits(bad_id):
    customer = CustomerFactory()
    with refused("aws_account_id_twelve_digits"), transaction.atomic():
        AwsAccount.objects.create(customer=customer, account_id=bad_id, name="bad")
    with pytest.raises(ValidationError, match="exactly 12 digits"):
        AwsAccount(customer=customer, account_id=bad_id, name="bad").full_clean()


def test_account_id_keeps_leading_zeros():
    account = AwsAccountFactory(account_id="000000000042")
    account.refresh_from_db()
    assert account.account_id == "000000000042"


def test_management_account_belongs_to_the_same_customer():
    mine, theirs = CustomerFactory(), CustomerFactory()
    their_management = AwsAccountFactory(customer=theirs)
    with refused("aws_account_management_same_customer"), transaction.atomic():
        AwsAccount.objects.create(
            customer=mine, account_id="111111111111", name="member", management_account=their_management
        )
    with pytest.raises(ValidationError, match="belongs to another customer"):
        AwsAccount(
            customer=mine, account_id="111111111111", name="member", management_account=their_management
        ).full_clean()


def test_accounts_form_one_level_under_the_management_account():
    management = AwsAccountFactory()
    member = AwsAccountFactory(customer=management.customer, management_account=management)
    with refused("cannot be grouped under a member account"), transaction.atomic():
        AwsAccountFactory(customer=management.customer, management_account=member)
    with refused("is a management account with members"), transaction.atomic():
        other = AwsAccountFactory(customer=management.customer)
        AwsAccount.objects.filter(pk=management.pk).update(management_account=other)


def test_consolidated_billing_needs_a_management_account():
    with refused("aws_account_consolidated_needs_management"), transaction.atomic():
        AwsAccountFactory(consolidated_billing=True)


def test_reseller_named_exactly_when_a_reseller_pays():
    with refused("aws_account_reseller_iff_reseller_pays"), transaction.atomic():
        AwsAccountFactory(paid_by="reseller")
    with refused("aws_account_reseller_iff_reseller_pays"), transaction.atomic():
        AwsAccountFactory(reseller=PartnerFactory())


def test_reseller_must_be_an_approved_solution_provider():
    account = AwsAccountFactory.build(
        customer=CustomerFactory(), paid_by="reseller", reseller=PartnerFactory(name="Not A Reseller Ltd")
    )
    with pytest.raises(ValidationError, match="Not A Reseller Ltd is not an approved Solution Provider"):
        account.full_clean()


def test_contract_cannot_end_before_it_starts():
    today = timezone.localdate()
    with refused("engagement_partner_contract_ends_after_start"), transaction.atomic():
        EngagementPartnerFactory(contract_start=today, contract_end=today - datetime.timedelta(days=1))
    # The end date is the last day, so a one-day contract is fine.
    EngagementPartnerFactory(contract_start=today, contract_end=today)


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:iam::{id}:role/",  # no role name
        "arn:aws:iam::{id}:role/Ops Team",  # a space
        "arn:aws:iam::{id}:user/Ops",
        "arn:aws:iam::{id}:role/Other",  # does not end with the role name
    ],
)
def test_role_arn_shape_is_checked(arn):
    grant = AccessGrantFactory()
    with refused("access_grant_role_arn_valid"), transaction.atomic():
        AccessGrant.objects.filter(pk=grant.pk).update(
            role_arn=arn.format(id=grant.account.account_id), role_name="Ops"
        )


def test_role_arn_must_name_the_grants_own_account():
    grant = AccessGrantFactory(role_name="Ops")
    other_account = "999999999999"
    with refused("must name the grant's own account"), transaction.atomic():
        AccessGrant.objects.filter(pk=grant.pk).update(role_arn=f"arn:aws:iam::{other_account}:role/Ops")
    grant.role_arn = f"arn:aws:iam::{other_account}:role/Ops"
    with pytest.raises(ValidationError, match=f"names account {other_account}, but the grant is on account"):
        grant.full_clean()


def test_grant_is_only_on_the_engaged_customers_accounts():
    grant = AccessGrantFactory()
    elsewhere = AwsAccountFactory()
    with refused("an account of the customer whose engagement the partner is on"), transaction.atomic():
        AccessGrant.objects.filter(pk=grant.pk).update(
            account=elsewhere, role_arn=f"arn:aws:iam::{elsewhere.account_id}:role/{grant.role_name}"
        )


def test_grant_never_outlives_the_contract():
    engaged = EngagementPartnerFactory(contract_end=timezone.localdate() + datetime.timedelta(days=10))
    too_late = timezone.now() + datetime.timedelta(days=40)
    with refused("cannot outlive the partner's contract"), transaction.atomic():
        AccessGrantFactory(engagement_partner=engaged, expires_at=too_late)


def test_contract_cannot_be_cut_short_under_live_grants():
    grant = AccessGrantFactory(expires_at=timezone.now() + datetime.timedelta(days=30))
    engaged = grant.engagement_partner
    with refused("while the partner holds access that lasts longer"), transaction.atomic():
        EngagementPartner.objects.filter(pk=engaged.pk).update(contract_end=timezone.localdate())


def test_revocation_is_recorded_whole():
    grant = AccessGrantFactory()
    with refused("access_grant_revocation_complete"), transaction.atomic():
        AccessGrant.objects.filter(pk=grant.pk).update(revoked_at=timezone.now())
    with refused("access_grant_revocation_complete"), transaction.atomic():
        AccessGrant.objects.filter(pk=grant.pk).update(
            revoked_at=timezone.now(), revoked_by=grant.granted_by, revocation_reason=""
        )


def test_administration_always_requires_the_customers_mfa():
    with refused("access_grant_administration_needs_mfa"), transaction.atomic():
        AccessGrantFactory(scope="administration", mfa_required=False)


def test_a_person_belongs_to_at_most_one_organisation():
    person = CustomerUserFactory()
    with refused("user_at_most_one_organisation"), transaction.atomic():
        type(person).objects.filter(pk=person.pk).update(partner=PartnerFactory())
    staff = StaffUserFactory()
    with refused("user_staff_has_no_organisation"), transaction.atomic():
        type(staff).objects.filter(pk=staff.pk).update(customer=CustomerFactory())
    assert not PartnerUserFactory().is_provider_staff
