"""Ids and times no database column can hold: a 400 (or a form error) naming what was given, on every
database. On SQLite, the embedded default, asking the database about them was a 500 (OverflowError)."""

import pytest
import yaml
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apn_portal.fields import IdMultipleChoiceField
from partners.models import Industry
from support.services import support_case_open
from tests.api.conftest import api_client
from tests.factories import (
    AwsAccountFactory,
    CustomerUserFactory,
    IndustryFactory,
    PartnerFactory,
    PartnerUserFactory,
    SuperUserFactory,
    SupportSubscriptionFactory,
)

pytestmark = pytest.mark.django_db

TOO_LARGE = 2**63
TOO_SMALL = -(2**63) - 1
ID_OUT_OF_RANGE = "Out of range for an id: give a whole number up to 9223372036854775807."
TIME_OUT_OF_RANGE = "Out of range: the time, in UTC, must fall between 0001-01-01 and 9999-12-31."

ID_FILTERS = [
    ("/api/v1/certifications/", "staff_member"),
    ("/api/v1/access-grants/", "engagement"),
    ("/api/v1/engagement-partners/", "engagement"),
    ("/api/v1/webhook-deliveries/", "endpoint"),
]


@pytest.mark.parametrize(("path", "name"), ID_FILTERS)
def test_an_id_filter_beyond_the_id_columns_is_a_400_naming_it(path, name):
    client = api_client(SuperUserFactory())

    for value in (TOO_LARGE, "99999999999999999999"):
        response = client.get(path, {name: value})
        assert response.status_code == 400, (path, name, value)
        assert response.json() == {name: [ID_OUT_OF_RANGE]}
    # No id is negative, and a body's id is plain digits too: not a range but a spelling to refuse.
    response = client.get(path, {name: TOO_SMALL})
    assert response.status_code == 400
    assert response.json() == {name: ["Give the record's id as a whole number, e.g. 42."]}

    largest = client.get(path, {name: 2**63 - 1})
    assert largest.status_code == 200
    assert largest.json()["results"] == []


def _date_time_filters() -> list[tuple[str, str]]:
    schema = yaml.safe_load(api_client().get("/api/v1/schema/").content)
    return [
        (path, parameter["name"])
        for path, methods in schema["paths"].items()
        for parameter in methods.get("get", {}).get("parameters", [])
        if parameter.get("schema", {}).get("format") == "date-time"
    ]


def _a_real_address(path: str) -> str:
    """A list under a record (a case's replies) read at a record that exists: another is a 404 first."""
    if "{id}" not in path:
        return path
    assert path == "/api/v1/support-cases/{id}/replies/", path
    customer_user = CustomerUserFactory()
    SupportSubscriptionFactory(customer=customer_user.customer, plan="business")
    case = support_case_open(
        user=customer_user,
        account=AwsAccountFactory(customer=customer_user.customer),
        subject="Site down",
        description="503 everywhere.",
        severity="production_down",
    )
    return path.replace("{id}", str(case.pk))


def test_every_date_time_filter_out_of_range_in_utc_is_a_400_naming_it():
    filters = _date_time_filters()
    assert {
        ("/api/v1/partners/", "updated_since"),
        ("/api/v1/certifications/", "updated_since"),
        ("/api/v1/tier-changes/", "changed_after"),
        ("/api/v1/tier-changes/", "changed_before"),
        ("/api/v1/contact-requests/", "created_after"),
        ("/api/v1/contact-requests/", "created_before"),
        ("/api/v1/engagements/", "updated_since"),
        ("/api/v1/support-cases/", "updated_since"),
        ("/api/v1/support-cases/{id}/replies/", "updated_since"),
    } <= set(filters)
    client = api_client(SuperUserFactory())

    for template, name in filters:
        path = _a_real_address(template)
        # Years 1 and 9999 as written, but a year 0 and a year 10000 in UTC.
        for value in ("0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"):
            response = client.get(path, {name: value})
            assert response.status_code == 400, (path, name, value)
            assert response.json() == {name: [TIME_OUT_OF_RANGE]}, (path, name, value)


def test_a_time_with_an_offset_still_filters_at_that_instant():
    client = api_client(SuperUserFactory())
    PartnerFactory(slug="acme")

    def count(since):
        return client.get("/api/v1/partners/", {"updated_since": since}).json()["count"]

    # Midnight at +05:00 is 19:00 UTC the day before: long past.
    assert count("2000-01-01T00:00:00+05:00") == 1
    assert count("9999-12-31T23:59:59+05:00") == 0
    assert count("0001-01-01T00:00:00Z") == 1


def test_a_profile_proposal_naming_an_industry_id_beyond_the_id_columns_is_an_invalid_choice(client):
    partner = PartnerFactory()
    client.force_login(PartnerUserFactory(partner=partner))

    with CaptureQueriesContext(connection) as queries:
        response = client.post(
            reverse("my:profile-edit"),
            {
                "description": "We migrate workloads to the cloud.",
                "website": "https://acme.example",
                "industries": [str(TOO_LARGE)],
                "use_cases": [str(TOO_SMALL)],
            },
        )

    assert response.status_code == 400
    # SQLite cannot run a query with such an id at all (a 500): none is asked.
    asked = [query["sql"] for query in queries]
    assert not [sql for sql in asked if str(TOO_LARGE) in sql or str(TOO_SMALL) in sql]
    errors = response.context["form"].errors
    invalid = "Select a valid choice. {} is not one of the available choices."
    assert errors["industries"] == [invalid.format(TOO_LARGE)]
    assert errors["use_cases"] == [invalid.format(TOO_SMALL)]


def test_the_multiple_choice_refuses_an_id_beyond_the_id_columns_without_asking_the_database(
    django_assert_num_queries,
):
    # SQLite cannot run a query with such an id at all: the refusal must come before any.
    retail = IndustryFactory()
    field = IdMultipleChoiceField(queryset=Industry.objects.all())

    with django_assert_num_queries(0), pytest.raises(ValidationError) as refusal:
        field.clean([str(retail.pk), "99999999999999999999"])

    assert refusal.value.messages == [
        "Select a valid choice. 99999999999999999999 is not one of the available choices."
    ]
    assert list(field.clean([str(retail.pk)])) == [retail]


def test_every_admin_choice_of_several_records_refuses_an_id_beyond_the_id_columns():
    request = RequestFactory().get("/admin/")
    request.user = SuperUserFactory.build()
    loose = [
        f"{model._meta.label}.{field.name}"
        for model, model_admin in admin.site._registry.items()
        for field in model._meta.many_to_many
        if (form_field := model_admin.formfield_for_manytomany(field, request)) is not None
        and not isinstance(form_field, IdMultipleChoiceField)
    ]
    assert loose == []


def test_a_partner_added_in_the_admin_with_an_industry_id_beyond_the_id_columns_is_told_so(client):
    client.force_login(SuperUserFactory())

    with CaptureQueriesContext(connection) as queries:
        response = client.post(
            reverse("admin:partners_partner_add"),
            {
                "name": "New Co",
                "slug": "new-co",
                "partner_type": "consulting",
                "industries": [str(TOO_LARGE)],
            },
        )

    assert response.status_code == 200
    assert not [query["sql"] for query in queries if str(TOO_LARGE) in query["sql"]]
    assert response.context["adminform"].form.errors["industries"] == [
        f"Select a valid choice. {TOO_LARGE} is not one of the available choices."
    ]
