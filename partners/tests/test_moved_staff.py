"""People who left: a partner's staff member who moved on is not told the PDM's decision on what they
proposed (it is the partner's), and a PDM who left is not told of proposals."""

import pytest

from apn_portal.outbox.models import OutboxMessage
from partners.services import profile_change_approve, profile_change_reject, profile_change_submit
from tests.factories import CustomerFactory, PartnerFactory, PartnerUserFactory, PdmFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def pdm():
    return PdmFactory(email="pat@provider.example")


@pytest.fixture
def acme(pdm):
    return PartnerFactory(name="Acme Cloud", description="We migrate workloads.", pdm=pdm)


@pytest.fixture
def bob(acme):
    return PartnerUserFactory(partner=acme, email="bob@acme.example")


def propose(partner, user):
    change, _ = profile_change_submit(
        partner=partner, user=user, description="New text.", website="", industries=[], use_cases=[]
    )
    return change


def sent_to(address):
    return list(OutboxMessage.objects.filter(to__contains=[address]).values_list("subject", flat=True))


MOVES = {
    "to a competitor": lambda bob: {"partner": PartnerFactory()},
    "to a customer": lambda bob: {"partner": None, "customer": CustomerFactory()},
    "deactivated": lambda bob: {"is_active": False},
}


@pytest.mark.parametrize("decide", ["approve", "reject"])
@pytest.mark.parametrize("move", MOVES)
def test_the_decision_goes_to_the_partners_staff_not_a_proposer_who_left(acme, bob, pdm, move, decide):
    PartnerUserFactory(partner=acme, email="ann@acme.example")
    change = propose(acme, bob)
    for field, value in MOVES[move](bob).items():
        setattr(bob, field, value)
    bob.save()

    if decide == "approve":
        profile_change_approve(change=change, user=pdm)
    else:
        profile_change_reject(change=change, user=pdm, reason="Your revenue figures are wrong")

    assert sent_to("bob@acme.example") == []
    status = {"approve": "approved", "reject": "rejected"}[decide]
    told = OutboxMessage.objects.get(dedupe_key=f"profile-change:{change.pk}:{status}")
    assert told.to == ["ann@acme.example"]


def test_the_decision_goes_to_the_proposer_still_there(acme, bob, pdm):
    PartnerUserFactory(partner=acme, email="ann@acme.example")
    change = propose(acme, bob)
    profile_change_reject(change=change, user=pdm, reason="Too long.")
    told = OutboxMessage.objects.get(dedupe_key=f"profile-change:{change.pk}:rejected")
    assert told.to == ["bob@acme.example"]


def test_a_pdm_who_left_is_not_told_of_a_proposal(acme, bob, pdm):
    pdm.is_active = False
    pdm.save()
    propose(acme, bob)
    assert sent_to("pat@provider.example") == []


def test_the_pdm_still_there_is_told_of_a_proposal(acme, bob, pdm):
    change = propose(acme, bob)
    assert sent_to("pat@provider.example") == [f"{acme.name} proposes changes to its profile"]
    assert OutboxMessage.objects.filter(dedupe_key=f"profile-change:{change.pk}:proposed").exists()


def replace_proposal(partner):
    profile_change_submit(
        partner=partner,
        user=PartnerUserFactory(partner=partner, email="ann@acme.example"),
        description="Ann's text.",
        website="",
        industries=[],
        use_cases=[],
    )


@pytest.mark.parametrize("move", MOVES)
def test_a_proposer_who_left_is_not_told_their_proposal_was_replaced(acme, bob, move):
    propose(acme, bob)
    for field, value in MOVES[move](bob).items():
        setattr(bob, field, value)
    bob.save()

    replace_proposal(acme)

    assert sent_to("bob@acme.example") == []


def test_the_proposer_still_there_is_told_their_proposal_was_replaced(acme, bob):
    propose(acme, bob)
    replace_proposal(acme)
    assert sent_to("bob@acme.example") == ["Your proposed profile changes for Acme Cloud were replaced"]
