"""An access administrator who leaves the customer (for a partner, another customer) keeps the link the
customer named them with until someone removes it, but no longer the role: not its access emails, not its
organisation page, not its count of access administrators left."""

import datetime
import re

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from apn_portal.exceptions import DomainError
from apn_portal.outbox.models import OutboxMessage
from engagements import selectors, services
from engagements.models import AccessGrant
from tests.admin_forms import user_change_data
from tests.factories import CustomerFactory, CustomerUserFactory, PartnerFactory, SuperUserFactory

pytestmark = pytest.mark.django_db


def leave(user, *, partner=None, customer=None, is_active=True):
    user.partner, user.customer, user.is_active = partner, customer, is_active
    user.save()


MOVES = {
    "to a partner": lambda alpha: {"partner": PartnerFactory()},
    "to another customer": lambda alpha: {"customer": CustomerFactory()},
    "deactivated": lambda alpha: {"customer": alpha.customer, "is_active": False},
}


@pytest.mark.parametrize("move", MOVES)
def test_an_access_administrator_who_left_is_not_told_of_the_customers_access(alpha, move):
    alpha.admin.email, alpha.staff.email = "alice@alpha.example", "sam@alpha.example"
    alpha.admin.save()
    alpha.staff.save()
    leave(alpha.admin, **MOVES[move](alpha))

    # The grant runs out; the hourly check records it and tells the customer.
    AccessGrant.objects.filter(pk=alpha.grant.pk).update(
        granted_at=timezone.now() - datetime.timedelta(days=2),
        expires_at=timezone.now() - datetime.timedelta(minutes=1),
    )
    with transaction.atomic():
        services.access_grants_end_expired(
            AccessGrant.objects.filter(pk=alpha.grant.pk), noticed_by="the hourly check", change_reason="t"
        )

    to_customer = OutboxMessage.objects.get(dedupe_key=f"grant-revoked:{alpha.grant.pk}:customer")
    # Nobody left holds the role: the customer's remaining staff are told instead.
    assert to_customer.to == ["sam@alpha.example"]


@pytest.mark.parametrize("move", ["to a partner", "to another customer"])
def test_the_organisation_page_no_longer_names_an_access_administrator_who_left(client, alpha, move):
    stays = CustomerUserFactory(
        customer=alpha.customer, access_admin=True, first_name="Dana", last_name="Stays"
    )
    alpha.admin.first_name, alpha.admin.last_name = "Alice", "Gone"
    leave(alpha.admin, **MOVES[move](alpha))

    client.force_login(alpha.staff)
    body = client.get(reverse("engagements:organisation")).content.decode()

    assert "Dana Stays" in body and stays.customer_id == alpha.customer.pk
    assert "Alice Gone" not in body


def test_an_access_administrator_who_left_is_not_the_last_one_kept(alpha):
    leave(alpha.admin, partner=PartnerFactory())
    # The link alone is no access administrator: the customer has none left, so nothing stops the
    # Account Manager removing it.
    services.customer_access_administrators_set(
        user=alpha.account_manager, customer=alpha.customer, members=[]
    )
    assert not alpha.customer.access_administrators.exists()


def test_the_last_access_administrator_still_there_is_kept_beside_one_who_left(alpha):
    alpha.customer.access_administrators.add(alpha.staff)
    leave(alpha.admin, partner=PartnerFactory())
    with pytest.raises(DomainError, match="would be left without an access administrator"):
        services.customer_access_administrators_set(
            user=alpha.account_manager, customer=alpha.customer, members=[]
        )
    assert set(alpha.customer.access_administrators.all()) == {alpha.admin, alpha.staff}


def test_moving_someone_in_the_user_admin_takes_them_off_their_old_customers_access_administrators(
    client, alpha, bravo
):
    client.force_login(SuperUserFactory())
    change = reverse("admin:accounts_user_change", args=[alpha.admin.pk])
    alpha.customer.access_administrators.add(alpha.staff)

    response = client.post(change, user_change_data(alpha.admin, customer=bravo.customer.pk))
    assert response.status_code == 302, response.content.decode()
    # Coming back is not getting the role back unasked: the customer names its access administrators.
    alpha.admin.refresh_from_db()
    response = client.post(change, user_change_data(alpha.admin, customer=alpha.customer.pk))
    assert response.status_code == 302, response.content.decode()

    assert list(alpha.customer.access_administrators.all()) == [alpha.staff]
    assert not selectors.user_can_manage_access(alpha.admin, alpha.customer)
    assert alpha.customer.history.first().history_user.is_superuser


# The customer admin's access administrators ----------------------------------------------------------------


def _customer_change(client, customer):
    return client.get(reverse("admin:engagements_customer_change", args=[customer.pk]))


def _shown_access_administrators(page) -> list[str]:
    """The people the page shows chosen, which the browser posts back as they are."""
    select = re.search(r'<select name="access_administrators".*?</select>', page.content.decode(), re.S)
    return re.findall(r'<option value="(\d+)" selected>', select.group(0))


@pytest.mark.parametrize("move", MOVES)
def test_the_customer_admin_offers_only_the_customers_own_active_people_as_access_administrators(
    client, alpha, bravo, move
):
    alpha.customer.access_administrators.add(alpha.staff)
    alpha.staff.first_name, alpha.staff.last_name = "Sam", "Gone"
    leave(alpha.staff, **MOVES[move](alpha))
    stays = CustomerUserFactory(customer=alpha.customer, first_name="Dana", last_name="Stays")
    client.force_login(alpha.account_manager)

    page = _customer_change(client, alpha.customer)

    field = page.context["adminform"].form.fields["access_administrators"]
    assert set(field.queryset) == {alpha.admin, stays}
    assert "Sam Gone" not in page.content.decode()


@pytest.mark.parametrize("move", MOVES)
def test_someone_who_left_does_not_stop_the_customer_admin_saving_and_loses_the_link(client, alpha, move):
    from .test_admin_isolation import _change_form

    alpha.customer.access_administrators.add(alpha.staff)
    client.force_login(alpha.account_manager)
    page = _customer_change(client, alpha.customer)  # read while they were still there
    newcomer = CustomerUserFactory(customer=alpha.customer)
    leave(alpha.staff, **MOVES[move](alpha))

    named = [alpha.admin.pk, alpha.staff.pk, newcomer.pk]
    response = client.post(
        reverse("admin:engagements_customer_change", args=[alpha.customer.pk]),
        _change_form(page, access_administrators=named),
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert set(alpha.customer.access_administrators.all()) == {alpha.admin, newcomer}


def test_saving_the_customer_admin_drops_the_link_of_someone_who_left(client, alpha):
    from .test_admin_isolation import _change_form

    alpha.customer.access_administrators.add(alpha.staff)
    leave(alpha.staff, partner=PartnerFactory())
    client.force_login(alpha.account_manager)

    page = _customer_change(client, alpha.customer)
    response = client.post(
        reverse("admin:engagements_customer_change", args=[alpha.customer.pk]),
        _change_form(
            page, name="Alpha Customer Ltd", access_administrators=_shown_access_administrators(page)
        ),
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    alpha.customer.refresh_from_db()
    assert alpha.customer.name == "Alpha Customer Ltd"
    assert list(alpha.customer.access_administrators.all()) == [alpha.admin]


def test_the_customer_admin_refuses_by_name_someone_who_is_not_the_customers(client, alpha, bravo):
    from .test_admin_isolation import _change_form

    client.force_login(alpha.account_manager)
    page = _customer_change(client, alpha.customer)
    response = client.post(
        reverse("admin:engagements_customer_change", args=[alpha.customer.pk]),
        _change_form(page, access_administrators=[alpha.admin.pk, bravo.staff.pk, "99999999999999999999"]),
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["access_administrators"] == [
        f"Only the customer's own people can administer access: {bravo.staff}."
    ]
    assert list(alpha.customer.access_administrators.all()) == [alpha.admin]
