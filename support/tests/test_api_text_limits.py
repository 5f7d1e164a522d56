"""A case's description and a reply hold as much through the API as through the pages, and no more: a
client cannot store a text the pages would refuse (and then have to render), and the schema says the limit.
Line breaks count as the pages count them, one each, whichever way the client sent them."""

import pytest
import yaml
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from support import services
from support.forms import CaseReplyForm, SupportCaseForm
from support.models import CaseReply, SupportCase
from tests.factories import SupportSubscriptionFactory
from tests.textarea import as_the_browser_sends, typed_in_paragraphs

pytestmark = pytest.mark.django_db

PAGES_LIMIT = SupportCaseForm.base_fields["description"].max_length


def api(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def case(alpha):
    SupportSubscriptionFactory(customer=alpha.customer, plan="business")
    return services.support_case_open(
        user=alpha.staff,
        account=alpha.account,
        subject="Site down",
        description="503 everywhere.",
        severity="production_down",
    )


def new_case(alpha, description: str):
    return api(alpha.staff).post(
        "/api/v1/support-cases/",
        {
            "account": alpha.account.account_id,
            "severity": "general_guidance",
            "subject": "Replica lag",
            "description": description,
        },
        format="json",
    )


def test_the_pages_and_the_api_hold_a_case_text_to_20000_characters():
    assert PAGES_LIMIT == 20000
    assert CaseReplyForm.base_fields["body"].max_length == PAGES_LIMIT


def test_a_description_longer_than_the_pages_take_is_refused_naming_the_field_and_the_limit(alpha, case):
    response = new_case(alpha, "x" * (PAGES_LIMIT + 1))

    assert response.status_code == 400
    assert response.json() == {"description": ["Ensure this field has no more than 20000 characters."]}
    assert SupportCase.objects.count() == 1


def test_a_reply_longer_than_the_pages_take_is_refused_naming_the_field_and_the_limit(alpha, case):
    response = api(alpha.staff).post(
        f"/api/v1/support-cases/{case.pk}/replies/", {"body": "x" * (PAGES_LIMIT + 1)}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {"body": ["Ensure this field has no more than 20000 characters."]}
    assert not CaseReply.objects.exists()


def test_a_description_sent_with_cr_lf_up_to_the_limit_is_taken_as_the_page_takes_it(alpha, case):
    typed = typed_in_paragraphs(PAGES_LIMIT)

    response = new_case(alpha, as_the_browser_sends(typed))

    assert response.status_code == 201, response.content
    assert SupportCase.objects.get(pk=response.json()["id"]).description == typed
    assert new_case(alpha, as_the_browser_sends(typed) + "z").status_code == 400


def test_the_schema_gives_the_limit(alpha):
    schema = yaml.safe_load(api(alpha.staff).get("/api/v1/schema/").content)["components"]["schemas"]

    assert schema["SupportCaseRequest"]["properties"]["description"]["maxLength"] == PAGES_LIMIT
    assert schema["CaseReplyRequest"]["properties"]["body"]["maxLength"] == PAGES_LIMIT
