"""The events the scheduled checks and the access services emit reach the endpoints that may see them."""

import datetime

import pytest
from django.utils import timezone

from apn_portal.checks.services import check_run
from apn_portal.outbox.models import OutboxMessage
from apn_portal.webhooks.models import WebhookDelivery
from apn_portal.webhooks.services import webhook_endpoint_create
from engagements.services import access_grant_revoke
from partners.choices import EnrollmentStatus
from partners.services import enrollment_revoke
from tests.api.conftest import api_client
from tests.factories import (
    AccessGrantFactory,
    ApprovedEnrollmentFactory,
    CertificationFactory,
    CustomerUserFactory,
    PartnerFactory,
    PartnerUserFactory,
    PdmFactory,
    ProgramEnrollmentFactory,
    StaffMemberFactory,
    SuperUserFactory,
)

pytestmark = pytest.mark.django_db

URL = "http://127.0.0.1:8151/hook"


def _endpoint(user, event):
    return webhook_endpoint_create(user=user, url=URL, events=[event], secret="s3cret-for-tests-0123456789")


def test_an_enrollment_the_check_expires_is_announced_to_its_partner_and_to_staff_only():
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    enrollment = ApprovedEnrollmentFactory(
        approved_on=yesterday - datetime.timedelta(days=365), expires_on=yesterday
    )
    own = _endpoint(PartnerUserFactory(partner=enrollment.partner), "enrollment.expired")
    staff = _endpoint(SuperUserFactory(), "enrollment.expired")
    other = _endpoint(PartnerUserFactory(partner=PartnerFactory()), "enrollment.expired")

    check_run("program_renewal")
    check_run("program_renewal")  # a second run expires nothing more, so announces nothing more

    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.EXPIRED
    deliveries = WebhookDelivery.objects.filter(event="enrollment.expired")
    assert sorted(d.endpoint_id for d in deliveries) == sorted([own.pk, staff.pk])
    assert {d.payload["data"]["id"] for d in deliveries} == {enrollment.pk}
    assert deliveries[0].payload["data"]["status"] == "expired"
    assert not deliveries.filter(endpoint=other).exists()


def test_an_enrollment_its_pdm_revokes_is_announced_and_its_partner_told_why():
    enrollment = ApprovedEnrollmentFactory(
        partner=PartnerFactory(pdm=PdmFactory(email="pat@provider.example"))
    )
    partner = enrollment.partner
    PartnerUserFactory(partner=partner, email="ann@acme.example")
    own = _endpoint(PartnerUserFactory(partner=partner), "enrollment.revoked")
    other = _endpoint(PartnerUserFactory(partner=PartnerFactory()), "enrollment.revoked")

    enrollment_revoke(enrollment=enrollment, user=partner.pdm, reason="The audit found no SOC 2 report.")

    (delivery,) = WebhookDelivery.objects.filter(event="enrollment.revoked")
    assert delivery.endpoint_id == own.pk != other.pk
    assert delivery.payload["data"]["status"] == "revoked"
    assert delivery.payload["data"]["status_reason"] == "The audit found no SOC 2 report."
    (email,) = OutboxMessage.objects.filter(dedupe_key=f"enrollment-revoked:{enrollment.pk}")
    assert "ann@acme.example" in email.to and "pat@provider.example" in email.to
    assert f"{enrollment.program.name} validation was revoked by {partner.pdm.get_full_name()}" in " ".join(
        email.body_text.split()
    )
    assert "The audit found no SOC 2 report." in email.body_text
    assert "tier again" not in email.body_text


def test_an_application_its_pdm_refuses_is_told_as_not_accepted_not_as_a_validation_revoked():
    enrollment = ProgramEnrollmentFactory(partner=PartnerFactory(pdm=PdmFactory()))
    PartnerUserFactory(partner=enrollment.partner, email="ann@acme.example")

    enrollment_revoke(enrollment=enrollment, user=enrollment.partner.pdm, reason="No SOC 2 report.")

    (email,) = OutboxMessage.objects.filter(dedupe_key=f"enrollment-revoked:{enrollment.pk}")
    assert email.subject == f"{enrollment.partner.name}: {enrollment.program.name} application not accepted"
    text, html = " ".join(email.body_text.split()), " ".join(email.body_html.split())
    assert f"application to {enrollment.program.name} was not accepted by" in text
    assert "No SOC 2 report." in text and "No SOC 2 report." in html
    for sent in (text, html):
        assert "revoked" not in sent and "public profile" not in sent


def test_a_revoked_grant_is_announced_to_the_partner_that_held_it():
    grant = AccessGrantFactory()
    partner = grant.engagement_partner.partner
    own = _endpoint(PartnerUserFactory(partner=partner), "access_grant.revoked")
    other = _endpoint(PartnerUserFactory(partner=PartnerFactory()), "access_grant.revoked")

    customer_admin = CustomerUserFactory(customer=grant.account.customer, access_admin=True)

    access_grant_revoke(user=customer_admin, grant=grant, reason="Contract handed to another partner")

    (delivery,) = WebhookDelivery.objects.filter(event="access_grant.revoked")
    assert delivery.endpoint == own
    assert delivery.payload["data"]["id"] == grant.pk
    assert delivery.payload["data"]["revocation_reason"] == "Contract handed to another partner"
    assert not WebhookDelivery.objects.filter(endpoint=other).exists()


def test_a_grant_that_ran_out_is_announced_as_expired_not_as_revoked():
    """One event, `access_grant.revoked`, tells of every end (integrators subscribe to it by name): its
    `data.state` tells a grant that ran out from one somebody cut short, as docs/api.md promises."""
    now = timezone.now()
    ran_out = AccessGrantFactory(
        granted_at=now - datetime.timedelta(days=30), expires_at=now - datetime.timedelta(minutes=5)
    )
    cut_short = AccessGrantFactory(engagement_partner=ran_out.engagement_partner)
    own = _endpoint(PartnerUserFactory(partner=ran_out.engagement_partner.partner), "access_grant.revoked")
    customer_admin = CustomerUserFactory(customer=cut_short.account.customer, access_admin=True)

    check_run("access_grant_expiry")
    access_grant_revoke(user=customer_admin, grant=cut_short, reason="Work finished early")

    data = {
        delivery.payload["data"]["id"]: delivery.payload["data"]
        for delivery in WebhookDelivery.objects.filter(endpoint=own, event="access_grant.revoked")
    }
    assert data[ran_out.pk]["state"] == "expired"
    assert data[ran_out.pk]["revoked_by"] is None
    assert data[ran_out.pk]["revocation_reason"]
    assert data[cut_short.pk]["state"] == "revoked"
    assert data[cut_short.pk]["revoked_by"] == customer_admin.username
    assert data[cut_short.pk]["revocation_reason"] == "Work finished early"
    # The event's description, in the schema and on the endpoint forms, says so too.
    schema = api_client(customer_admin).get("/api/v1/schema/").content.decode()
    label = "A customer's access grant to a partner ended: revoked, or expired (data.state says which)"
    assert f"`access_grant.revoked` - {label}" in schema


def test_expiring_certifications_are_announced_once_a_day_to_their_partner():
    partner = PartnerFactory()
    PartnerUserFactory(partner=partner, email="ops@partner.example")
    person = StaffMemberFactory(partner=partner, full_name="Ann Lee")
    certification = CertificationFactory(
        staff_member=person,
        earned_on=timezone.localdate() - datetime.timedelta(days=1000),
        expires_on=timezone.localdate() + datetime.timedelta(days=30),
    )
    own = _endpoint(PartnerUserFactory(partner=partner), "certification.expiring")
    _endpoint(PartnerUserFactory(partner=PartnerFactory()), "certification.expiring")

    check_run("certification_expiry")
    check_run("certification_expiry")  # the same day again: nothing new to announce

    (delivery,) = WebhookDelivery.objects.filter(event="certification.expiring")
    assert delivery.endpoint == own
    data = delivery.payload["data"]
    assert data["partner"] == partner.slug
    assert [(c["id"], c["person"], c["reminder_days"]) for c in data["certifications"]] == [
        (certification.pk, "Ann Lee", 30)
    ]
