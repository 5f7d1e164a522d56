"""A customer its people, accounts, engagements or support history keep (PROTECT), an AWS account its
access grants, support history or member accounts keep, or a partner's contract on an engagement its
access grants or its replaced predecessor keep, is not deleted in the admin, on its page or with the list's
bulk action: the refusal says what keeps it and what to do, where Django's bare "protected related objects"
page listed the records and said neither."""

import datetime

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse
from django.utils import timezone

from apn_portal.deletion import keeping_relations
from engagements.models import AwsAccount, Customer, EngagementPartner
from engagements.selectors import _ACCOUNT_KEPT_BY, _CUSTOMER_KEPT_BY, _ENGAGEMENT_PARTNER_KEPT_BY
from tests.factories import (
    AccessGrantFactory,
    AwsAccountFactory,
    CustomerFactory,
    CustomerUserFactory,
    EngagementFactory,
    EngagementPartnerFactory,
    PartnerFactory,
    SuperUserFactory,
)

pytestmark = pytest.mark.django_db

CUSTOMERS = reverse("admin:engagements_customer_changelist")


@pytest.fixture
def superuser(client):
    user = SuperUserFactory()
    client.force_login(user)
    return user


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_deleting_a_customer_its_people_and_records_keep_says_why_and_what_to_do(client, superuser):
    customer = CustomerFactory(name="Kept plc")
    CustomerUserFactory(customer=customer, username="carol")
    AwsAccountFactory.create_batch(2, customer=customer)
    EngagementFactory(customer=customer)
    delete_url = reverse("admin:engagements_customer_delete", args=[customer.pk])

    response = client.post(delete_url, {"post": "yes"}, follow=True)

    assert response.redirect_chain == [
        (reverse("admin:engagements_customer_change", args=[customer.pk]), 302)
    ]
    assert messages_of(response) == [
        "Not deleted: Kept plc still has 1 person, who belongs to it even deactivated (carol): move them to "
        "another organisation, or none, in the user admin first.",
        "Not deleted: Kept plc has 2 AWS accounts and 1 engagement, which keep it: delete them first, on "
        "their own page.",
    ]
    assert Customer.objects.filter(pk=customer.pk).exists()


def test_bulk_deleting_customers_is_refused_whole_for_one_its_records_keep(client, superuser):
    kept = CustomerFactory(name="Accounted plc")
    AwsAccountFactory(customer=kept)
    empty = CustomerFactory(name="Mistyped plc")
    selection = {"action": "delete_selected", ACTION_CHECKBOX_NAME: [kept.pk, empty.pk], "index": 0}

    confirm = client.post(CUSTOMERS, selection, follow=True)
    done = client.post(CUSTOMERS, {**selection, "post": "yes"}, follow=True)

    for response in (confirm, done):
        assert messages_of(response) == [
            "Not deleted: Accounted plc has 1 AWS account, which keeps it: delete it first, on its own page."
        ]
    assert Customer.objects.filter(pk__in=[kept.pk, empty.pk]).count() == 2
    # A customer nothing keeps still goes.
    client.post(CUSTOMERS, {"action": "delete_selected", ACTION_CHECKBOX_NAME: [empty.pk], "post": "yes"})
    assert not Customer.objects.filter(pk=empty.pk).exists()


def test_every_relation_that_keeps_a_customer_is_said_in_words():
    kept = {rel.get_accessor_name() for rel in keeping_relations(Customer)}
    assert kept - {"users"} == set(_CUSTOMER_KEPT_BY)


def test_deleting_an_account_its_access_grants_keep_says_it_stays(client, superuser):
    engaged = EngagementPartnerFactory()
    account = AwsAccountFactory(customer=engaged.engagement.customer, account_id="111122223333", name="prod")
    AccessGrantFactory(engagement_partner=engaged, account=account)

    response = client.post(
        reverse("admin:engagements_awsaccount_delete", args=[account.pk]), {"post": "yes"}, follow=True
    )

    assert messages_of(response) == [
        "Not deleted: 111122223333 (prod) has 1 access grant, which keeps it: the access granted to it and "
        "its support history are kept for good, so the account stays."
    ]
    assert AwsAccount.objects.filter(pk=account.pk).exists()


def test_bulk_deleting_a_management_account_says_to_group_its_members_elsewhere_first(client, superuser):
    management = AwsAccountFactory(account_id="999988887777", name="root")
    AwsAccountFactory(customer=management.customer, management_account=management)

    response = client.post(
        reverse("admin:engagements_awsaccount_changelist"),
        {"action": "delete_selected", ACTION_CHECKBOX_NAME: [management.pk], "index": 0},
        follow=True,
    )

    assert messages_of(response) == [
        "Not deleted: 999988887777 (root) has 1 member account, which keeps it: group it under another "
        "management account, or none, on its own page first."
    ]
    assert AwsAccount.objects.filter(pk=management.pk).exists()


def test_every_relation_that_keeps_an_account_is_said_in_words():
    assert {rel.get_accessor_name() for rel in keeping_relations(AwsAccount)} == set(_ACCOUNT_KEPT_BY)


ENGAGED = reverse("admin:engagements_engagementpartner_changelist")


def test_deleting_a_contract_its_access_grants_keep_says_to_revoke_them_or_replace_the_partner(
    client, superuser
):
    engaged = EngagementPartnerFactory(partner=PartnerFactory(name="Ops Partners"))
    AccessGrantFactory(engagement_partner=engaged)
    now = timezone.now()
    AccessGrantFactory(
        engagement_partner=engaged,
        granted_at=now - datetime.timedelta(days=2),
        revoked_at=now - datetime.timedelta(days=1),
        revoked_by=superuser,
        revocation_reason="Project paused",
    )

    response = client.post(
        reverse("admin:engagements_engagementpartner_delete", args=[engaged.pk]), {"post": "yes"}, follow=True
    )

    assert response.redirect_chain == [
        (reverse("admin:engagements_engagementpartner_change", args=[engaged.pk]), 302)
    ]
    assert messages_of(response) == [
        f"Not deleted: {engaged} has 2 access grants, 1 of them live, which keep it: access granted is kept "
        "for good, so the contract stays. To cut the access short, revoke the live one with a reason, on the "
        "access grants' list; to end the contract, replace the partner (through the API) or cancel the "
        "engagement."
    ]
    assert EngagementPartner.objects.filter(pk=engaged.pk).exists()


def test_bulk_deleting_contracts_is_refused_whole_for_a_replacement_and_ended_access(client, superuser):
    successor = EngagementPartnerFactory(partner=PartnerFactory(name="New Co"))
    predecessor = EngagementPartnerFactory(
        engagement=successor.engagement,
        partner=PartnerFactory(name="Old Co"),
        replaced_by=successor,
        ended_reason="Lost the tender",
    )
    lapsed = EngagementPartnerFactory(partner=PartnerFactory(name="Lapsed Co"))
    granted_at = timezone.now() - datetime.timedelta(days=10)
    AccessGrantFactory(
        engagement_partner=lapsed, granted_at=granted_at, expires_at=granted_at + datetime.timedelta(days=1)
    )
    unused = EngagementPartnerFactory(partner=PartnerFactory(name="Mistyped Co"))
    selection = {
        "action": "delete_selected",
        ACTION_CHECKBOX_NAME: [successor.pk, lapsed.pk, unused.pk],
        "index": 0,
    }

    confirm = client.post(ENGAGED, selection, follow=True)
    done = client.post(ENGAGED, {**selection, "post": "yes"}, follow=True)

    for response in (confirm, done):
        assert messages_of(response) == [
            f"Not deleted: {lapsed} has 1 access grant, no longer live, which keeps it: access granted is "
            "kept for good, so the contract stays. To end the contract, replace the partner (through the "
            "API) or cancel the engagement.",
            f"Not deleted: {successor} replaced Old Co, whose ended contract names it and keeps it: delete "
            "that contract first, on its own page.",
        ]
    assert (
        EngagementPartner.objects.filter(pk__in=[successor.pk, predecessor.pk, lapsed.pk, unused.pk]).count()
        == 4
    )
    # A contract nothing keeps still goes.
    client.post(ENGAGED, {"action": "delete_selected", ACTION_CHECKBOX_NAME: [unused.pk], "post": "yes"})
    assert not EngagementPartner.objects.filter(pk=unused.pk).exists()


def test_every_relation_that_keeps_a_contract_is_said_in_words():
    kept = {rel.get_accessor_name() for rel in keeping_relations(EngagementPartner)}
    assert kept == set(_ENGAGEMENT_PARTNER_KEPT_BY)
