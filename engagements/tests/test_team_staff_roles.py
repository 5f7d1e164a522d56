"""The provider's roles on a project team are held by the staff who hold them: the team's Account Manager,
Solutions Architect and Technical Account Manager have that staff role, and its TAM is the one the
customer's support plan serves it with (whitepaper: Enterprise Support customers "are assigned a named
AWS Technical Account Manager (TAM)", who is an AWS Certified Solutions Architect, Associate at a
minimum). Membership opens the customer's records, and the customer reads the team: nobody else is named
in those roles. Professional Services stays open to any of the provider's staff."""

import datetime

import pytest
from django.urls import reverse

from apn_portal.exceptions import DomainError
from engagements import selectors, services
from engagements.choices import TeamRole
from engagements.models import TeamMember
from support.services import support_subscription_change
from tests.factories import (
    AccountManagerFactory,
    CustomerFactory,
    CustomerUserFactory,
    EngagementFactory,
    PdmFactory,
    QualifiedTamFactory,
    SolutionsArchitectFactory,
    StaffUserFactory,
    TamFactory,
    support_plan,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def account_manager():
    return AccountManagerFactory()


@pytest.fixture
def engagement(account_manager):
    """An engagement of a customer on Basic (no subscription): no TAM serves it."""
    return EngagementFactory(customer=CustomerFactory(name="Acme", account_manager=account_manager))


def _add(account_manager, engagement, role, member, **kwargs):
    return services.team_member_add(
        user=account_manager, engagement=engagement, role=role, member=member, **kwargs
    )


def _on_enterprise(engagement, tam):
    customer = engagement.customer
    support_subscription_change(
        user=customer.account_manager, customer=customer, plan=support_plan("enterprise"), tam=tam
    )
    customer.refresh_from_db()
    return customer


def _refused(account_manager, engagement, role, member, **kwargs) -> DomainError:
    with pytest.raises(DomainError) as refused:
        _add(account_manager, engagement, role, member, **kwargs)
    assert refused.value.field == "member"
    assert not TeamMember.objects.filter(engagement=engagement, role=role).exists()
    return refused.value


def test_a_pdm_is_not_the_customers_technical_account_manager(client, account_manager, engagement):
    pdm = PdmFactory(first_name="Pat", last_name="Doyle")

    refusal = _refused(account_manager, engagement, TeamRole.TAM, pdm)

    assert refusal.message == f"{pdm} is not one of the provider's Technical Account Managers."
    assert engagement.customer not in selectors.customers_assigned_to(pdm)
    client.force_login(CustomerUserFactory(customer=engagement.customer))
    page = client.get(reverse("engagements:engagement-detail", args=[engagement.pk])).content.decode()
    assert "Pat Doyle" not in page


@pytest.mark.parametrize(
    ("role", "title"),
    [
        (TeamRole.ACCOUNT_MANAGER, "Account Managers"),
        (TeamRole.SOLUTIONS_ARCHITECT, "Solutions Architects"),
    ],
)
def test_the_teams_account_manager_and_architect_hold_that_role(account_manager, engagement, role, title):
    somebody = StaffUserFactory()

    refusal = _refused(account_manager, engagement, role, somebody)

    assert refusal.message == f"{somebody} is not one of the provider's {title}."


def test_staff_in_the_role_join_as_it_and_professional_services_is_any_staff(account_manager, engagement):
    architect, pdm = SolutionsArchitectFactory(), PdmFactory()

    _add(account_manager, engagement, TeamRole.ACCOUNT_MANAGER, account_manager)
    _add(account_manager, engagement, TeamRole.SOLUTIONS_ARCHITECT, architect)
    _add(account_manager, engagement, TeamRole.PROFESSIONAL_SERVICES, pdm)

    assert set(engagement.team_members.values_list("user", "role")) == {
        (account_manager.pk, TeamRole.ACCOUNT_MANAGER),
        (architect.pk, TeamRole.SOLUTIONS_ARCHITECT),
        (pdm.pk, TeamRole.PROFESSIONAL_SERVICES),
    }


def test_no_tam_serves_a_customer_whose_plan_has_none(account_manager, engagement):
    tara = QualifiedTamFactory(first_name="Tara", last_name="Quinn")

    refusal = _refused(account_manager, engagement, TeamRole.TAM, tara)

    assert "Acme is on Basic, which comes without a designated TAM" in refusal.message


def test_the_teams_tam_is_the_one_the_customers_plan_designates(account_manager, engagement):
    tara, other = QualifiedTamFactory(), QualifiedTamFactory()
    _on_enterprise(engagement, tara)

    refusal = _refused(account_manager, engagement, TeamRole.TAM, other)
    assert refusal.message.startswith(f"{tara} is Acme's TAM")
    assert engagement.customer not in selectors.customers_assigned_to(other)

    _add(account_manager, engagement, TeamRole.TAM, tara)
    assert engagement.customer in selectors.customers_assigned_to(tara)


def test_a_designated_tam_whose_certification_ran_out_does_not_join(account_manager, engagement):
    tara = QualifiedTamFactory()
    _on_enterprise(engagement, tara)
    yesterday = engagement.customer.local_today() - datetime.timedelta(days=1)
    tara.provider_certifications.update(expires_on=yesterday)

    refusal = _refused(account_manager, engagement, TeamRole.TAM, tara)

    assert "holds no current Solutions Architect certification" in refusal.message


def test_nobody_is_written_in_by_name_as_the_teams_tam(account_manager, engagement):
    _on_enterprise(engagement, QualifiedTamFactory())

    refusal = _refused(account_manager, engagement, TeamRole.TAM, None, name="Kofi Mensah")

    assert "choose them" in refusal.message


def test_the_admin_refuses_a_tam_the_customer_does_not_have(client, account_manager, engagement):
    tam = TamFactory()
    client.force_login(account_manager)

    response = client.post(
        reverse("admin:engagements_teammember_add"),
        {
            "engagement": engagement.pk,
            "user": tam.pk,
            "role": TeamRole.TAM,
            "name": "",
            "email": "",
            "joined_on": "2024-01-01",
            "left_on": "",
            "note": "",
        },
    )

    assert response.status_code == 200
    assert "which comes without a designated TAM" in str(response.context["adminform"].form.errors["user"])
    assert not TeamMember.objects.filter(user=tam).exists()
