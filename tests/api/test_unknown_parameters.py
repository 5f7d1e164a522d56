"""A query parameter a list does not take is a 400 naming it, never ignored (docs/api.md, Errors): a
misspelt filter answered with the whole, unfiltered list looks like a filtered one to the integrator, and a
misspelt `updated_since` turns a sync of what changed into a full one. Every list of both permission
matrices, asked by a role it answers, with one parameter too many. The API's own parameters (paging,
ordering, format) are still taken by every list, the browsable API still works, and detail addresses, the
root, the schema and the docs, and the Find-a-Partner page (which ignores what it does not read, such as
a newsletter's `utm_` tags) are unchanged."""

import pytest
from django.test import Client

from tests.api.conftest import ROLES as PARTNER_ROLES
from tests.api.conftest import api_client
from tests.api.test_permission_matrix import CASES as PARTNER_CASES
from tests.api.test_permission_matrix_customers import (  # noqa: F401
    CUSTOMER_CASES,
    CUSTOMER_ROLES,
    _customers_world_once,
    customers_world,
)
from tests.factories import CertificationFactory, PartnerFactory, StaffMemberFactory, SuperUserFactory

UNKNOWN = "partnr"
# What every list reads besides its filters (docs/api.md, "Lists, filters and paging").
LIST_PARAMETERS = ("page", "page_size", "cursor", "ordering", "format")


def _is_list(name: str) -> bool:
    return name.endswith(" list") or name.endswith(" replies")


def _reads(cases, roles, *, lists: bool) -> list:
    """(path, the first role whose GET succeeds) for every GET of a matrix that is (or is not) a list."""
    params = []
    for name, method, path, _body, expected in cases:
        if method != "get" or _is_list(name) != lists:
            continue
        role = next((role for role, status in zip(roles, expected, strict=True) if status == 200), None)
        if role is not None:
            params.append(pytest.param(path, role, id=f"{name} as {role}"))
    return params


def assert_refused_by_name(w, path, role):
    response = w.client(role).get(path(w), {UNKNOWN: "alpha"})

    assert response.status_code == 400, (response.status_code, getattr(response, "data", None))
    [message] = response.json()[UNKNOWN]
    assert message.startswith("Unknown parameter; this list filters on: "), message
    assert "updated_since" in message


def assert_unaffected(w, path, role):
    response = w.client(role).get(path(w), {UNKNOWN: "alpha"})

    assert response.status_code == 200, (response.status_code, getattr(response, "data", None))


@pytest.mark.parametrize(("path", "role"), _reads(PARTNER_CASES, PARTNER_ROLES, lists=True))
def test_a_partner_side_list_refuses_a_parameter_it_does_not_take(world, path, role):
    assert_refused_by_name(world, path, role)


@pytest.mark.parametrize(("path", "role"), _reads(CUSTOMER_CASES, CUSTOMER_ROLES, lists=True))
def test_a_customer_side_list_refuses_a_parameter_it_does_not_take(customers_world, path, role):  # noqa: F811
    assert_refused_by_name(customers_world, path, role)


@pytest.mark.parametrize(("path", "role"), _reads(PARTNER_CASES, PARTNER_ROLES, lists=False))
def test_a_partner_side_read_of_one_record_still_ignores_it(world, path, role):
    assert_unaffected(world, path, role)


@pytest.mark.parametrize(("path", "role"), _reads(CUSTOMER_CASES, CUSTOMER_ROLES, lists=False))
def test_a_customer_side_read_of_one_record_still_ignores_it(customers_world, path, role):  # noqa: F811
    assert_unaffected(customers_world, path, role)


@pytest.mark.django_db
def test_a_misspelt_partner_filter_is_named_rather_than_listing_everyones_staff():
    mine, other = PartnerFactory(slug="mine"), PartnerFactory(slug="other")
    StaffMemberFactory(partner=mine)
    StaffMemberFactory(partner=other)

    response = api_client(SuperUserFactory()).get("/api/v1/staff-members/", {"partnr": "mine"})

    assert response.status_code == 400
    assert response.json() == {
        "partnr": ["Unknown parameter; this list filters on: partner, email, updated_since."]
    }


@pytest.mark.django_db
def test_a_misspelt_updated_since_is_a_400_not_a_full_sync():
    CertificationFactory()

    response = api_client(SuperUserFactory()).get(
        "/api/v1/certifications/", {"updated_snce": "2099-01-01T00:00:00Z"}
    )

    assert response.status_code == 400
    assert list(response.json()) == ["updated_snce"]


@pytest.mark.parametrize("path", ["/api/v1/staff-members/", "/api/v1/certifications/", "/api/v1/partners/"])
@pytest.mark.parametrize("name", LIST_PARAMETERS)
@pytest.mark.django_db
def test_the_apis_own_parameters_are_taken_by_every_list(path, name):
    """A bad value of one of them may be a 400 (a `page` on a cursor list, a cursor not of this list), but
    never as an unknown parameter."""
    response = api_client(SuperUserFactory()).get(path, {name: "json" if name == "format" else "1"})

    assert "Unknown parameter" not in response.content.decode(), response.content


@pytest.mark.django_db
def test_a_list_with_its_filters_paging_and_format_still_answers():
    partner = PartnerFactory(slug="mine")
    StaffMemberFactory(partner=partner)
    StaffMemberFactory(partner=partner)

    response = api_client(SuperUserFactory()).get(
        "/api/v1/staff-members/",
        {
            "partner": "mine",
            "updated_since": "2000-01-01T00:00:00Z",
            "page_size": 1,
            "page": 2,
            "ordering": "id",
        }
        | {"format": "json"},
    )

    assert response.status_code == 200, response.content
    assert response.json()["count"] == 2


@pytest.mark.django_db
def test_the_browsable_api_still_shows_a_list_and_names_a_misspelt_parameter():
    client = api_client(SuperUserFactory())

    page = client.get("/api/v1/staff-members/", {"format": "api"})
    misspelt = client.get("/api/v1/staff-members/", {"format": "api", UNKNOWN: "x"}, HTTP_ACCEPT="text/html")

    assert page.status_code == 200
    assert page["Content-Type"].startswith("text/html")
    assert misspelt.status_code == 400
    assert "Unknown parameter" in misspelt.content.decode()


@pytest.mark.django_db
def test_the_schema_and_docs_still_take_their_own_parameters():
    client = api_client(SuperUserFactory())

    assert client.get("/api/v1/schema/", {"format": "json"}).status_code == 200
    assert client.get("/api/v1/docs/", {"utm_source": "newsletter"}).status_code == 200


@pytest.mark.django_db
def test_the_find_a_partner_page_still_ignores_what_it_does_not_read():
    PartnerFactory(name="Zephyrine Cloud")
    PartnerFactory(name="Other Co")

    response = Client().get(
        "/partners/", {"q": "zephyrine", "utm_source": "newsletter", "utm_campaign": "spring"}
    )

    assert response.status_code == 200
    assert [row.name for row in response.context["page"].rows] == ["Zephyrine Cloud"]
