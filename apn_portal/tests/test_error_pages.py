"""What people meet when a page is missing, forbidden or fails: the portal's own pages, with its header and
a way on, and JSON for the API."""

import pytest
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from tests.api.conftest import api_client
from tests.factories import CustomerUserFactory, PartnerFactory, PartnerUserFactory, StaffUserFactory

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


def test_an_api_call_with_an_unknown_host_answers_json(client):
    # docs/api.md: errors are JSON, this one too, though Django refuses it before any view.
    response = client.get("/api/v1/partners/", HTTP_HOST="portal.internal.example")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert "Host" in response.json()["detail"]
    assert "portal.internal.example" not in response.content.decode()


def test_an_api_call_with_too_many_parameters_answers_json(client, settings):
    # A sync filtering on many values (`?slug=a&slug=b...`) past DATA_UPLOAD_MAX_NUMBER_FIELDS.
    query = "&".join(f"slug=p{n}" for n in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1))

    response = client.get(f"/api/v1/partners/?{query}")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert str(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS) in response.json()["detail"]


@pytest.mark.urls("apn_portal.tests.urls_failing")
def test_an_api_body_too_large_read_outside_the_api_views_answers_json(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024

    response = client.post("/api/v1/reads-the-body/", {"message": "x" * 2048})

    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert response.json()["detail"].startswith("The request body is too large")


@pytest.mark.parametrize(
    "kwargs",
    [{"HTTP_HOST": "portal.internal.example"}, {"QUERY_STRING": "&".join(f"q={n}" for n in range(1001))}],
    ids=["unknown host", "too many parameters"],
)
def test_a_page_it_cannot_read_is_the_portals_own(client, kwargs):
    response = client.get("/partners/", **kwargs)

    assert response.status_code == 400
    assertContains(response, "The portal could not read that request", status_code=400)
    assertContains(response, '<nav class="site-nav" aria-label="Main">', status_code=400)


@pytest.mark.urls("apn_portal.tests.urls_failing")
def test_an_api_call_refused_outside_the_api_views_answers_json(client):
    response = client.get("/api/v1/forbidden/")

    assert response.status_code == 403
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Only the provider's staff may do that."}


@pytest.mark.urls("apn_portal.tests.urls_failing")
def test_a_page_refused_outside_the_admin_is_the_portals_own(client):
    response = client.get("/forbidden/")

    assertContains(response, "You cannot do that here", status_code=403)
    assertContains(response, "Only the provider&#x27;s staff may do that.", status_code=403)


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("put", "/partners/", "GET, HEAD"),
        ("post", "/", None),
        ("delete", "/accounts/logout/", None),
    ],
)
def test_a_method_a_page_does_not_take_is_the_portals_page_with_a_way_on(client, method, path, allow):
    response = getattr(client, method)(path)

    assert response.status_code == 405
    if allow:
        assert response["Allow"] == allow
    assertContains(response, "This page cannot do that", status_code=405)
    assertContains(response, '<nav class="site-nav" aria-label="Main">', status_code=405)
    assertContains(
        response, f'<a href="{reverse("partners:search")}">Find a partner</a>', status_code=405, html=True
    )


def test_a_method_an_api_address_does_not_take_stays_json():
    response = api_client(PartnerUserFactory()).put("/api/v1/tiers/")

    assert response.status_code == 405
    assert response["Content-Type"] == "application/json"
    assert "detail" in response.json()


def test_a_forbidden_page_is_the_portals_own_with_a_way_on(client):
    client.force_login(StaffUserFactory())  # staff, with no permission on partners

    response = client.get(reverse("admin:partners_partner_export_csv"))

    assertContains(response, "You cannot do that here", status_code=403)
    assertContains(
        response, f'<a href="{reverse("home")}">The portal\'s home page</a>', status_code=403, html=True
    )
