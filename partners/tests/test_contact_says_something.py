"""A lead is something a partner can act on and read as it was sent: a message of a few characters one can
see, and a name and company without characters that turn their text around. The page and the API apply
the same rule (the model's validators)."""

import pytest
from rest_framework.test import APIClient

from partners.models import ContactRequest
from partners.tests.test_contact_requests import contact_url, partner, valid_data  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db

ZERO_WIDTH_SPACE = "\u200b"
RIGHT_TO_LEFT_OVERRIDE = "\u202e"
TOO_SHORT = "Tell the partner a little more: at least 10 characters."


def api_post(partner, **overrides):  # noqa: F811
    data = {**valid_data(**overrides), "partner": partner.slug}
    data.pop("website")
    return APIClient().post("/api/v1/contact-requests/", data, format="json", REMOTE_ADDR="203.0.113.9")


@pytest.mark.parametrize(
    "message",
    [ZERO_WIDTH_SPACE * 20, "Hi there", f"Hi{ZERO_WIDTH_SPACE * 8} there"],
    ids=["invisible", "short", "padded"],
)
def test_a_message_with_too_little_to_read_is_refused_on_the_page_and_the_api(client, partner, message):  # noqa: F811
    page = client.post(contact_url(partner), valid_data(message=message))
    api = api_post(partner, message=message)

    assert page.status_code == 400
    assert page.context["contact_form"].errors["message"] == [TOO_SHORT]
    assert api.status_code == 400
    assert api.json()["message"] == [TOO_SHORT]
    assert not ContactRequest.objects.exists()


def test_ten_characters_one_can_see_are_enough(client, partner):  # noqa: F811
    assert api_post(partner, message="Help us move").status_code == 201


@pytest.mark.parametrize("field", ["name", "company"])
def test_a_name_or_company_that_turns_its_text_around_is_refused(client, partner, field):  # noqa: F811
    spoofed = f"Acme{RIGHT_TO_LEFT_OVERRIDE}gnp.exe"

    page = client.post(contact_url(partner), valid_data(**{field: spoofed}))
    api = api_post(partner, **{field: spoofed})

    assert page.status_code == 400
    assert "change the text's direction" in page.context["contact_form"].errors[field][0]
    assert api.status_code == 400
    assert "change the text's direction" in api.json()[field][0]
    assert not ContactRequest.objects.exists()
