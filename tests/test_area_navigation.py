"""Every page of the signed-in area offers the same way to every section its visitor may use."""

import pytest
from django.urls import reverse

from tests.factories import CustomerUserFactory, PartnerUserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("page", ["my:scorecard", "engagements:engagement-list", "support:case-list"])
def test_a_partners_staff_reach_every_section_from_any_page(client, page):
    client.force_login(PartnerUserFactory())

    html = client.get(reverse(page)).content.decode()

    for section in [
        "my:scorecard",
        "my:leads",
        "engagements:engagement-list",
        "engagements:grants",
        "support:case-list",
    ]:
        assert f'href="{reverse(section)}"' in html, section
    assert 'href="/pdm/"' not in html


@pytest.mark.parametrize("page", ["engagements:organisation", "engagements:access", "support:home"])
def test_a_customers_staff_reach_every_section_from_any_page(client, page):
    client.force_login(CustomerUserFactory())

    html = client.get(reverse(page)).content.decode()

    for section in [
        "engagements:organisation",
        "engagements:engagement-list",
        "engagements:access",
        "support:home",
    ]:
        assert f'href="{reverse(section)}"' in html, section
    assert f'href="{reverse("my:leads")}"' not in html
