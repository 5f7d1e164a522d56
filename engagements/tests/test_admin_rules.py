"""The admin holds the services' rules: who may change a customer's records, who names its access
administrators (never leaving none), who joins an engagement's team and in what role, and nothing added
to a closed engagement. What the API and the pages refuse, the admin refuses too, on its forms."""

import pytest
from django.urls import reverse

from apn_portal.exceptions import DomainError, PermissionDeniedError
from engagements import services
from engagements.models import AwsAccount, Customer, Engagement, EngagementPartner, TeamMember
from engagements.selectors import customers_visible_to
from tests.factories import (
    AccountManagerFactory,
    CustomerUserFactory,
    PartnerFactory,
    SolutionsArchitectFactory,
    TamFactory,
)

from .test_admin_isolation import _change_form, _customer_form

pytestmark = pytest.mark.django_db


def _change(model, pk):
    return reverse(f"admin:engagements_{model}_change", args=[pk])


def _errors(response) -> dict:
    assert response.status_code == 200, response.status_code
    return response.context["adminform"].form.errors


# Access administrators -----------------------------------------------------------------------------------


def test_the_admin_never_leaves_a_customer_without_access_administrators(client, alpha):
    client.force_login(alpha.account_manager)
    response = client.post(
        _change("customer", alpha.customer.pk), _customer_form(alpha.customer, access_administrators=[])
    )
    assert _errors(response)["access_administrators"] == [
        f"{alpha.customer} would be left without an access administrator, and nobody could grant partners "
        "access to its accounts: name another before removing the last."
    ]
    assert list(alpha.customer.access_administrators.all()) == [alpha.admin]


def test_the_account_manager_hands_the_access_role_to_another_of_the_customers_people(client, alpha):
    client.force_login(alpha.account_manager)
    response = client.post(
        _change("customer", alpha.customer.pk),
        _customer_form(alpha.customer, access_administrators=[alpha.staff.pk]),
    )
    assert response.status_code == 302
    assert list(alpha.customer.access_administrators.all()) == [alpha.staff]


def test_access_administrators_are_removed_by_the_rule_they_are_named_by(alpha):
    consultant = SolutionsArchitectFactory()
    TeamMember.objects.create(engagement=alpha.engagement, user=consultant, role="professional_services")
    with pytest.raises(PermissionDeniedError):
        services.customer_access_administrators_set(user=consultant, customer=alpha.customer, members=[])
    with pytest.raises(DomainError, match="would be left without an access administrator"):
        services.customer_access_administrators_set(
            user=alpha.account_manager, customer=alpha.customer, members=[]
        )
    services.customer_access_administrator_add(user=alpha.admin, customer=alpha.customer, member=alpha.staff)
    services.customer_access_administrators_set(
        user=alpha.staff, customer=alpha.customer, members=[alpha.staff]
    )
    assert list(alpha.customer.access_administrators.all()) == [alpha.staff]


# Who may change what -------------------------------------------------------------------------------------


@pytest.fixture
def consultant(alpha):
    """Provider staff who sees the customer only through a seat on one of its teams."""
    user = SolutionsArchitectFactory(username="consultant")
    TeamMember.objects.create(engagement=alpha.engagement, user=user, role="professional_services")
    return user


def test_a_team_member_sees_the_customers_records_in_the_admin_but_does_not_change_them(
    client, alpha, consultant
):
    client.force_login(alpha.account_manager)
    pages = {
        "customer": (
            alpha.customer.pk,
            {"name": "Hijacked", "slug": "hijacked", "access_administrators": []},
        ),
        "engagement": (alpha.engagement.pk, {"title": "Hijacked"}),
        "awsaccount": (alpha.member.pk, {"management_account": ""}),
    }
    posts = {
        model: _change_form(client.get(_change(model, pk)), **changes)
        for model, (pk, changes) in pages.items()
    }

    client.force_login(consultant)
    for model, (pk, _) in pages.items():
        assert client.get(_change(model, pk)).status_code == 200, model
        assert client.post(_change(model, pk), posts[model]).status_code == 403, model
    customer = Customer.objects.get(pk=alpha.customer.pk)
    assert (customer.name, customer.slug) == (alpha.customer.name, alpha.customer.slug)
    assert list(customer.access_administrators.all()) == [alpha.admin]
    assert Engagement.objects.get(pk=alpha.engagement.pk).title == alpha.engagement.title
    assert AwsAccount.objects.get(pk=alpha.member.pk).management_account == alpha.management


# The team ------------------------------------------------------------------------------------------------


def _team_member_add(client, engagement, **fields):
    return client.post(
        reverse("admin:engagements_teammember_add"),
        {"engagement": engagement.pk, "name": "", "email": "", "joined_on": "2024-01-01"}
        | {"left_on": "", "note": ""}
        | fields,
    )


def test_the_admin_puts_nobody_on_a_team_in_a_role_that_is_not_theirs(client, alpha, bravo):
    client.force_login(alpha.account_manager)
    response = _team_member_add(client, alpha.engagement, user=bravo.staff.pk, role="customer_it")
    assert _errors(response)["user"] == [f"{bravo.staff} does not work for {alpha.customer}."]
    assert not TeamMember.objects.filter(user=bravo.staff).exists()


def test_a_member_added_in_the_admin_joins_through_the_service(client, alpha):
    architect = SolutionsArchitectFactory()
    client.force_login(alpha.account_manager)
    response = _team_member_add(client, alpha.engagement, user=architect.pk, role="solutions_architect")
    assert response.status_code == 302
    assert TeamMember.objects.filter(engagement=alpha.engagement, user=architect).exists()
    again = _team_member_add(client, alpha.engagement, user=architect.pk, role="solutions_architect")
    assert _errors(again)["user"] == [f"{architect} is already Solutions Architect on the team."]


def test_a_team_row_is_not_edited_into_somebody_else(client, alpha):
    """A TAM may change the team's rows (leaving dates, notes) but not make one another person's: that
    would open the customer's records to them."""
    tam = TamFactory()
    alpha.customer.tam = tam
    alpha.customer.save()
    row = TeamMember.objects.create(engagement=alpha.engagement, user=alpha.staff, role="customer_it")
    other_manager = AccountManagerFactory()
    client.force_login(tam)
    url = _change("teammember", row.pk)
    page = client.get(url)
    assert {"engagement", "user", "role"}.isdisjoint(page.context["adminform"].form.fields)
    data = {"name": "", "email": "", "joined_on": row.joined_on.isoformat(), "left_on": "", "note": "Lead"}
    response = client.post(url, data | {"user": other_manager.pk, "role": "account_manager"})
    assert response.status_code == 302
    row.refresh_from_db()
    assert (row.user, row.role, row.note) == (alpha.staff, "customer_it", "Lead")
    assert not customers_visible_to(other_manager).exists()


def test_the_engagements_team_inline_holds_the_same_rules(client, alpha, bravo):
    row = TeamMember.objects.create(engagement=alpha.engagement, user=alpha.staff, role="customer_it")
    client.force_login(alpha.account_manager)
    url = _change("engagement", alpha.engagement.pk)
    data = _change_form(client.get(url))
    prefix = "team_members"
    new = {f"{prefix}-TOTAL_FORMS": 1, f"{prefix}-INITIAL_FORMS": 0}
    new |= {f"{prefix}-0-user": bravo.staff.pk, f"{prefix}-0-role": "customer_it"}
    new |= {f"{prefix}-0-joined_on": "2024-01-01"}
    edited = {f"{prefix}-TOTAL_FORMS": 1, f"{prefix}-INITIAL_FORMS": 1, f"{prefix}-0-id": row.pk}
    edited |= {f"{prefix}-0-engagement": alpha.engagement.pk, f"{prefix}-0-user": bravo.staff.pk}
    edited |= {f"{prefix}-0-role": "customer_it", f"{prefix}-0-joined_on": row.joined_on.isoformat()}
    for post, message in (
        (new, f"{bravo.staff} does not work for {alpha.customer}."),
        (
            edited,
            "A team member stays the person, and in the role, they joined as: add anybody else, or "
            "another role, as a new member.",
        ),
    ):
        response = client.post(url, data | post)
        assert response.status_code == 200
        inline = next(
            formset.formset
            for formset in response.context["inline_admin_formsets"]
            if formset.formset.prefix == prefix
        )
        assert inline.forms[0].errors["user"] == [message]
    assert not TeamMember.objects.filter(user=bravo.staff).exists()
    assert TeamMember.objects.get(pk=row.pk).user == alpha.staff

    # What the rules allow still goes: a new member who fits the role, a note on an existing row.
    architect = SolutionsArchitectFactory()
    allowed = {f"{prefix}-TOTAL_FORMS": 2, f"{prefix}-INITIAL_FORMS": 1, f"{prefix}-0-id": row.pk}
    allowed |= {f"{prefix}-0-engagement": alpha.engagement.pk, f"{prefix}-0-user": alpha.staff.pk}
    allowed |= {f"{prefix}-0-role": "customer_it", f"{prefix}-0-joined_on": row.joined_on.isoformat()}
    allowed |= {f"{prefix}-0-note": "Lead", f"{prefix}-1-user": architect.pk}
    allowed |= {f"{prefix}-1-role": "solutions_architect", f"{prefix}-1-joined_on": "2024-01-01"}
    assert client.post(url, data | allowed).status_code == 302
    assert TeamMember.objects.get(pk=row.pk).note == "Lead"
    assert TeamMember.objects.filter(engagement=alpha.engagement, user=architect).exists()


def test_a_new_engagements_team_is_held_to_the_same_rules(client, alpha, bravo):
    from .test_admin import _engagement_add_form

    client.force_login(alpha.account_manager)
    data = _engagement_add_form(client, customer=alpha.customer.pk)
    data |= {"team_members-TOTAL_FORMS": 1, "team_members-0-user": bravo.staff.pk}
    data |= {"team_members-0-role": "customer_it", "team_members-0-joined_on": "2024-01-01"}
    response = client.post(reverse("admin:engagements_engagement_add"), data)
    assert response.status_code == 200
    (team,) = [
        i.formset for i in response.context["inline_admin_formsets"] if i.formset.prefix == "team_members"
    ]
    assert team.forms[0].errors["user"] == [f"{bravo.staff} does not work for {alpha.customer}."]
    assert not Engagement.objects.filter(title="Move").exists()


# Closed engagements --------------------------------------------------------------------------------------


def test_nobody_joins_a_cancelled_engagement_in_the_admin(client, alpha):
    Engagement.objects.filter(pk=alpha.engagement.pk).update(status="cancelled")
    partner = PartnerFactory(name="Latecomer Ltd")
    refusal = f"“{alpha.engagement.title}” is cancelled."
    client.force_login(alpha.account_manager)
    response = client.post(
        reverse("admin:engagements_engagementpartner_add"),
        {"engagement": alpha.engagement.pk, "partner": partner.pk, "role": "consulting_lead"}
        | {"contract_start": "2026-11-01", "contract_end": "2027-11-01"}
        | {"territory": "", "business_function": ""},
    )
    assert _errors(response).get("__all__") == [refusal]
    assert not EngagementPartner.objects.filter(partner=partner).exists()

    newcomer = CustomerUserFactory(customer=alpha.customer)
    response = _team_member_add(client, alpha.engagement, user=newcomer.pk, role="customer_it")
    assert _errors(response).get("__all__") == [refusal]
    assert not TeamMember.objects.filter(user=newcomer).exists()


def test_a_partner_added_in_the_admin_joins_through_the_service(client, alpha):
    partner = PartnerFactory(name="Newcomer Ltd")
    client.force_login(alpha.account_manager)
    data = {"engagement": alpha.engagement.pk, "partner": partner.pk, "role": "consulting_lead"}
    data |= {"contract_start": "2026-11-01", "contract_end": "2027-11-01"}
    data |= {"territory": "", "business_function": ""}
    response = client.post(reverse("admin:engagements_engagementpartner_add"), data)
    assert response.status_code == 302
    assert EngagementPartner.objects.get(partner=partner).added_by == alpha.account_manager
    again = client.post(reverse("admin:engagements_engagementpartner_add"), data)
    assert _errors(again)["partner"] == [
        f"{partner} is already consulting lead on “{alpha.engagement.title}”."
    ]
