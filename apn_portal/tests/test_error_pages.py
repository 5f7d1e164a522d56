"""What people meet when a page is missing, forbidden or fails: the portal's own pages, with its header and
a way on, and JSON for the API."""

import pytest
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from tests.factories import CustomerUserFactory, PartnerFactory, StaffUserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/partners/no-such-partner/", "/nowhere/"])
def test_a_missing_page_is_the_portals_own_with_a_way_on(client, path):
    response = client.get(path)

    assert response.status_code == 404
    assertContains(response, "There is no such page", status_code=404)
    assertContains(response, '<nav class="site-nav" aria-label="Main">', status_code=404)
    assertContains(
        response, f'<a href="{reverse("partners:search")}">Find a partner</a>', status_code=404, html=True
    )


def test_a_missing_page_escapes_the_address_it_repeats(client):
    response = client.get("/nowhere/<script>alert(1)</script>/")

    assertNotContains(response, "<script>alert(1)</script>", status_code=404)


def test_an_unpublished_partners_profile_is_missing_for_the_signed_in_too(client):
    client.force_login(CustomerUserFactory())
    hidden = PartnerFactory(is_published=False)

    response = client.get(reverse("partners:profile", args=[hidden.slug]))

    assertContains(response, "There is no such page", status_code=404)
    assertContains(response, "Your areas of the portal", status_code=404)


@pytest.mark.urls("apn_portal.tests.urls_failing")
def test_a_page_that_fails_says_so_in_the_portals_page(client):
    client.raise_request_exception = False

    response = client.get("/failing/")

    assert response.status_code == 500
    assertContains(response, "Something went wrong on our side", status_code=500)
    assertContains(response, '<nav class="site-nav" aria-label="Main">', status_code=500)


@pytest.mark.urls("apn_portal.tests.urls_failing")
def test_a_page_the_database_rolled_back_for_another_request_says_to_send_it_again(client):
    client.raise_request_exception = False
    client.force_login(CustomerUserFactory())

    response = client.post("/deadlocked/")

    assert response.status_code == 409
    assertContains(response, "Someone changed the same records at the same moment", status_code=409)
    assertContains(response, "Nothing of what you sent was saved", status_code=409)
    assertContains(response, "Signed in as", status_code=409)  # the portal's page, with its header


@pytest.mark.urls("apn_portal.tests.urls_failing")
def test_an_api_call_that_fails_answers_json(client):
    client.raise_request_exception = False

    response = client.get("/api/v1/failing/")

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json()["detail"].startswith("Something went wrong on our side")


def test_a_forbidden_page_is_the_portals_own_with_a_way_on(client):
    client.force_login(StaffUserFactory())  # staff, with no permission on partners

    response = client.get(reverse("admin:partners_partner_export_csv"))

    assertContains(response, "You cannot do that here", status_code=403)
    assertContains(
        response, f'<a href="{reverse("home")}">The portal\'s home page</a>', status_code=403, html=True
    )
