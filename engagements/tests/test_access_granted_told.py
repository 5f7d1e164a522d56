"""A partner granted access is told by email, with what it needs to use it, and so are the customer's other
access administrators, as both are told when the access ends."""

import re
from html import unescape

import pytest
from django.urls import reverse

from apn_portal.outbox.models import OutboxMessage
from engagements import services
from engagements.choices import AccessScope
from tests.factories import (
    AwsAccountFactory,
    CustomerUserFactory,
    PartnerUserFactory,
    PdmFactory,
)

pytestmark = pytest.mark.django_db


def _grant(alpha, **kwargs):
    account = AwsAccountFactory(customer=alpha.customer, account_id="111000000077", name="Alpha-data")
    return services.access_grant_create(
        user=alpha.admin,
        account=account,
        engagement_partner=alpha.engaged,
        role_arn="arn:aws:iam::111000000077:role/PartnerDeploy",
        scope=AccessScope.OPERATIONS,
        **kwargs,
    )


def _words(email):
    text = re.sub(r"\s+", " ", email.body_text)
    html = re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", email.body_html)))
    return text, html


def test_the_partners_staff_are_told_the_role_to_assume_its_scope_and_until_when(alpha):
    alpha.partner.pdm = PdmFactory(email="pdm.mei@provider.example")
    alpha.partner.save()
    grant = _grant(alpha, mfa_required=False)

    email = OutboxMessage.objects.get(dedupe_key=f"access-grant-granted:{grant.pk}:partner")
    assert email.to == [alpha.partner_user.email]
    assert "111000000077" in email.subject
    for words in _words(email):
        assert "arn:aws:iam::111000000077:role/PartnerDeploy" in words
        assert grant.get_scope_display() in words
        assert "without an MFA token" in words
        assert grant.ends_in_words in words
        assert "nobody signed up" not in words


def test_a_partner_with_nobody_signed_up_is_told_through_its_pdm(alpha):
    alpha.partner.pdm = PdmFactory(email="pdm.mei@provider.example")
    alpha.partner.save()
    alpha.partner_user.delete()
    grant = _grant(alpha)

    email = OutboxMessage.objects.get(dedupe_key=f"access-grant-granted:{grant.pk}:partner")
    assert email.to == ["pdm.mei@provider.example"]
    admin_page = reverse("admin:partners_partner_change", args=[alpha.partner.pk])
    for words in _words(email):
        assert "has nobody signed up to the portal yet" in words
        assert "with the customer's MFA token" in words
    assert admin_page in email.body_text and admin_page in email.body_html


def test_the_customers_other_access_administrators_are_told_who_granted_what(alpha):
    other = CustomerUserFactory(customer=alpha.customer, access_admin=True, email="sec@alpha.example")
    grant = _grant(alpha)

    email = OutboxMessage.objects.get(dedupe_key=f"access-grant-granted:{grant.pk}:customer")
    assert email.to == [other.email]  # not the administrator who granted it, nor staff without the role
    granter = alpha.admin.get_full_name() or alpha.admin.get_username()
    for words in _words(email):
        assert f"{granter} granted {alpha.partner.name}" in words
        assert grant.get_scope_display() in words
        assert "PartnerDeploy" in words


def test_an_only_access_administrator_granting_is_not_told_what_they_did(alpha):
    grant = _grant(alpha)
    assert not OutboxMessage.objects.filter(dedupe_key=f"access-grant-granted:{grant.pk}:customer").exists()
    assert OutboxMessage.objects.filter(dedupe_key=f"access-grant-granted:{grant.pk}:partner").exists()


def test_the_grant_form_sent_twice_tells_once(alpha, client):
    PartnerUserFactory(partner=alpha.partner, email="ops@alpha-partners.example")
    account = AwsAccountFactory(customer=alpha.customer, account_id="111000000077")
    arguments = dict(
        user=alpha.admin,
        account=account,
        engagement_partner=alpha.engaged,
        role_arn="arn:aws:iam::111000000077:role/PartnerDeploy",
        scope=AccessScope.OPERATIONS,
        submission_token="3f2b8c1e-6d4a-4f0e-9b7a-2c5d8e1f0a9b",
    )
    grant, created = services.access_grant_submit(**arguments)
    again, created_again = services.access_grant_submit(**arguments)
    assert created and not created_again and again == grant
    assert OutboxMessage.objects.filter(dedupe_key__startswith="access-grant-granted:").count() == 1
