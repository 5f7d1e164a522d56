"""A partner's contract on an engagement beginning or ending: its staff are told by email, not left to find
it on /my/engagements/ or to read it off the end of a grant they may not hold."""

import datetime
import re
from html import unescape

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from apn_portal.outbox.models import OutboxMessage
from engagements import services
from engagements.choices import PartnerRole
from partners.choices import PartnerType
from tests.factories import (
    CustomerFactory,
    CustomerUserFactory,
    EngagementFactory,
    EngagementPartnerFactory,
    PartnerFactory,
    PartnerUserFactory,
    PdmFactory,
)

pytestmark = pytest.mark.django_db


def words(email) -> tuple[str, str]:
    """The text and the HTML body, as read: tags dropped, spaces collapsed."""
    html = unescape(re.sub(r"<[^>]+>", " ", email.body_html))
    return " ".join(email.body_text.split()), " ".join(html.split())


def later(days: int) -> datetime.date:
    return timezone.localdate() + datetime.timedelta(days=days)


def _replace(alpha, winner, reason="Missed deadlines"):
    return services.engagement_partner_replace(
        user=alpha.admin,
        engagement_partner=alpha.engaged,
        new_partner=winner,
        reason=reason,
        contract_start=later(1),
        contract_end=later(200),
    )


def test_a_partner_added_to_an_engagement_is_told_what_contract_and_where_to_see_it(alpha):
    newcomer = PartnerFactory(name="Newcomer Cloud", partner_type=PartnerType.TECHNOLOGY)
    PartnerUserFactory(partner=newcomer, email="desk@newcomer.example")

    engaged = services.engagement_partner_add(
        user=alpha.admin,
        engagement=alpha.engagement,
        partner=newcomer,
        role=PartnerRole.TECHNOLOGY,
        contract_start=later(3),
        contract_end=later(90),
    )

    email = OutboxMessage.objects.get(dedupe_key=f"engagement-partner-joined:{engaged.pk}")
    assert email.to == ["desk@newcomer.example"]
    assert alpha.engagement.title in email.subject
    link = reverse("engagements:engagement-detail", args=[alpha.engagement.pk])
    for body in words(email):
        assert alpha.engagement.title in body and alpha.customer.name in body
        assert "technology partner" in body.lower()
        assert f"{later(3):%-d %b %Y}" in body and f"{later(90):%-d %b %Y}" in body
    assert link in email.body_text and link in email.body_html


def test_a_partner_added_with_nobody_signed_up_has_its_pdm_told_instead(alpha):
    newcomer = PartnerFactory(
        name="Newcomer Cloud",
        partner_type=PartnerType.TECHNOLOGY,
        pdm=PdmFactory(email="pdm.mei@provider.example"),
    )

    engaged = services.engagement_partner_add(
        user=alpha.admin,
        engagement=alpha.engagement,
        partner=newcomer,
        role=PartnerRole.TECHNOLOGY,
        contract_start=later(0),
        contract_end=later(90),
    )

    email = OutboxMessage.objects.get(dedupe_key=f"engagement-partner-joined:{engaged.pk}")
    assert email.to == ["pdm.mei@provider.example"]
    admin_page = reverse("admin:partners_partner_change", args=[newcomer.pk])
    assert "nobody signed up" in words(email)[0] and admin_page in email.body_text


def test_the_incoming_partner_of_a_replacement_is_told_and_the_replaced_one_told_its_contract_ended(alpha):
    winner = PartnerFactory(name="Winner Consulting")
    PartnerUserFactory(partner=winner, email="desk@winner.example")

    new = _replace(alpha, winner)

    joined = OutboxMessage.objects.get(dedupe_key=f"engagement-partner-joined:{new.pk}")
    assert joined.to == ["desk@winner.example"]
    ended = OutboxMessage.objects.get(dedupe_key=f"engagement-partner-ended:{alpha.engaged.pk}:replaced")
    assert ended.to == [alpha.partner_user.email]
    for body in words(ended):
        assert f"Your contract on {alpha.engagement.title} ended: Missed deadlines" in body
        assert "new grant" not in body


def test_a_replaced_partner_without_a_live_grant_is_still_told_its_contract_ended(alpha):
    services.access_grant_revoke(user=alpha.admin, grant=alpha.grant, reason="Paused")

    _replace(alpha, PartnerFactory(name="Winner Consulting"))

    assert OutboxMessage.objects.filter(
        dedupe_key=f"engagement-partner-ended:{alpha.engaged.pk}:replaced", to=[alpha.partner_user.email]
    ).exists()


def test_the_access_ended_email_of_a_replaced_partner_does_not_say_to_ask_for_a_new_grant(alpha):
    _replace(alpha, PartnerFactory(name="Winner Consulting"))

    email = OutboxMessage.objects.get(dedupe_key=f"grant-revoked:{alpha.grant.pk}:partner")
    for body in words(email):
        assert "Contract ended: Missed deadlines" in body
        assert "new grant" not in body


def test_the_access_ended_email_of_a_grant_revoked_alone_still_says_to_ask_for_a_new_one(alpha):
    services.access_grant_revoke(user=alpha.admin, grant=alpha.grant, reason="Security review")

    email = OutboxMessage.objects.get(dedupe_key=f"grant-revoked:{alpha.grant.pk}:partner")
    for body in words(email):
        assert f"If the work goes on, ask {alpha.customer.name} for a new grant." in body


def test_every_partner_on_a_cancelled_engagement_is_told_with_or_without_a_grant(alpha):
    tech = EngagementPartnerFactory(engagement=alpha.engagement, role=PartnerRole.TECHNOLOGY)
    PartnerUserFactory(partner=tech.partner, email="desk@tech.example")

    services.engagement_status_change(
        user=alpha.admin, engagement=alpha.engagement, status="cancelled", reason="Budget cut"
    )

    for contract, address in ((alpha.engaged, alpha.partner_user.email), (tech, "desk@tech.example")):
        email = OutboxMessage.objects.get(dedupe_key=f"engagement-partner-ended:{contract.pk}:cancelled")
        assert email.to == [address]
        for body in words(email):
            assert f"{alpha.engagement.title} was cancelled: Budget cut" in body
    revoked = OutboxMessage.objects.get(dedupe_key=f"grant-revoked:{alpha.grant.pk}:partner")
    assert "new grant" not in revoked.body_text and "new grant" not in revoked.body_html


def test_a_partner_replaced_before_the_engagement_is_cancelled_is_told_once_of_each(alpha):
    winner = PartnerFactory(name="Winner Consulting")
    PartnerUserFactory(partner=winner, email="desk@winner.example")
    new = _replace(alpha, winner)

    services.engagement_status_change(
        user=alpha.admin, engagement=alpha.engagement, status="cancelled", reason="Budget cut"
    )

    ended = OutboxMessage.objects.filter(dedupe_key__startswith="engagement-partner-ended:")
    assert sorted(ended.values_list("dedupe_key", flat=True)) == sorted(
        [
            f"engagement-partner-ended:{alpha.engaged.pk}:replaced",
            f"engagement-partner-ended:{new.pk}:cancelled",
        ]
    )


@pytest.mark.parametrize(
    ("last_day", "told"),
    [(datetime.date(2026, 3, 4), True), (datetime.date(2026, 3, 3), False)],
    ids=["still running", "already over"],
)
def test_a_replaced_partner_is_told_only_if_its_contract_was_still_running(last_day, told):
    """At noon UTC on 3 March it is already 4 March on Kiritimati: a contract whose last day was 3 March is
    over there, so replacing its partner takes nothing from it, as cancelling the engagement would not."""
    customer = CustomerFactory(time_zone="Pacific/Kiritimati")
    admin = CustomerUserFactory(customer=customer, access_admin=True)
    old = EngagementPartnerFactory(
        engagement=EngagementFactory(customer=customer),
        contract_start=datetime.date(2026, 1, 1),
        contract_end=last_day,
    )
    PartnerUserFactory(partner=old.partner, email="desk@old.example")
    winner = PartnerFactory(name="Winner Consulting")
    PartnerUserFactory(partner=winner, email="desk@winner.example")

    with time_machine.travel(datetime.datetime(2026, 3, 3, 12, 0, tzinfo=datetime.UTC), tick=False):
        new = services.engagement_partner_replace(
            user=admin,
            engagement_partner=old,
            new_partner=winner,
            reason="Missed deadlines",
            contract_end=datetime.date(2026, 12, 31),
        )

    sent = sorted((email.dedupe_key, tuple(email.to)) for email in OutboxMessage.objects.all())
    expected = [(f"engagement-partner-joined:{new.pk}", ("desk@winner.example",))]
    if told:
        expected.append((f"engagement-partner-ended:{old.pk}:replaced", ("desk@old.example",)))
    assert sent == sorted(expected)
    old.refresh_from_db()
    assert (old.contract_end, old.replaced_by, old.ended_reason) == (
        datetime.date(2026, 3, 4) if told else last_day,
        new,
        "Missed deadlines",
    )
