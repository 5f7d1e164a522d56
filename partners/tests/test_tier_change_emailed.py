"""A PDM's promotion or demotion reaches the partner's staff (and its PDM) by email, as the scheduled
check's demotion does: the new tier, the old one, the reason given and whom to ask, through the outbox in
the transaction of the change, once per change."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from apn_portal.outbox.models import OutboxMessage
from partners.models import TierChange
from partners.services import partner_tier_change
from tests.factories import (
    PartnerFactory,
    PartnerUserFactory,
    PdmFactory,
    SuperUserFactory,
    give_select_evidence,
    tier,
)

pytestmark = pytest.mark.django_db

PARTNERS = "admin:partners_partner_changelist"


def run_action(client, url_name, action, objects, **extra):
    data = {"action": action, ACTION_CHECKBOX_NAME: [obj.pk for obj in objects], **extra}
    if "apply" not in extra:
        data["index"] = 0
    return client.post(reverse(url_name), data, follow=True)


@pytest.fixture
def pdm():
    return PdmFactory(first_name="Pat", last_name="Morgan", email="pat@provider.example")


@pytest.fixture
def acme(pdm):
    partner = PartnerFactory(name="Acme Cloud", pdm=pdm, tier=tier("consulting", "select"))
    PartnerUserFactory(partner=partner, email="ann@acme.example")
    return partner


# A tier changed by hand ---------------------------------------------------------------------------------


def test_a_demotion_in_the_admin_emails_the_partners_staff_and_pdm_with_the_reason(client, pdm, acme):
    give_select_evidence(acme)
    client.force_login(pdm)

    run_action(
        client,
        PARTNERS,
        "change_tier",
        [acme],
        apply="1",
        to_tier=tier("consulting", "registered").pk,
        reason="Customer complaints about the last two migrations.",
    )

    change = TierChange.objects.get(partner=acme)
    [message] = OutboxMessage.objects.filter(dedupe_key=f"tier-changed:{change.pk}")
    assert message.to == ["ann@acme.example", "pat@provider.example"]
    assert message.subject == "Acme Cloud is now Registered (was Select)"
    assert "Acme Cloud is now Registered: it was Select." in message.body_text
    assert "Customer complaints about the last two migrations." in message.body_text
    assert "Changed by Pat Morgan, who gave this reason:" in message.body_text
    assert "write to your Partner Development Manager, Pat Morgan (pat@provider.example)" in message.body_text
    assert "Customer complaints about the last two migrations." in message.body_html
    # The PDM's own link, to the partner in the admin.
    assert reverse("admin:partners_partner_change", args=[acme.pk]) in message.body_text


def test_a_promotion_on_the_partners_tier_page_is_worded_as_one(client, pdm, acme):
    client.force_login(pdm)

    response = client.post(
        reverse("admin:partners_partner_tier", args=[acme.pk]),
        {"apply": "1", "to_tier": tier("consulting", "advanced").pk, "reason": "Audited in person in May."},
    )

    assert response.status_code == 302
    change = TierChange.objects.get(partner=acme)
    [message] = OutboxMessage.objects.filter(dedupe_key=f"tier-changed:{change.pk}")
    assert message.subject == "Acme Cloud is promoted to Advanced"
    assert "Acme Cloud is promoted to Advanced: it was Select." in message.body_text
    assert "Audited in person in May." in message.body_text


def test_each_tier_change_is_emailed_once_and_a_partner_with_nobody_to_tell_is_not(pdm, acme):
    partner_tier_change(partner=acme, to_tier=tier("consulting", "advanced"), reason="Up", user=pdm)
    partner_tier_change(partner=acme, to_tier=tier("consulting", "select"), reason="Down", user=pdm)
    nobody = PartnerFactory(name="Quiet Co")  # no staff, no PDM
    partner_tier_change(
        partner=nobody, to_tier=tier("consulting", "select"), reason="Up", user=SuperUserFactory()
    )

    subjects = sorted(
        OutboxMessage.objects.filter(dedupe_key__startswith="tier-changed:").values_list("subject", flat=True)
    )
    assert subjects == ["Acme Cloud is now Select (was Advanced)", "Acme Cloud is promoted to Advanced"]
