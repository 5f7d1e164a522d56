"""What a signed-in user sees is for them only: no browser or proxy keeps a copy of it, and a page the
browser restores from its back/forward cache asks the portal again, so after signing out Back shows the
sign-in page rather than a lead's name, email and message."""

import pytest

from tests.api.conftest import api_client
from tests.factories import ContactRequestFactory, PartnerFactory, PartnerUserFactory, PdmFactory

pytestmark = pytest.mark.django_db

RELOAD_SCRIPT = "js/reload-restored-page.js"


@pytest.fixture
def lead():
    return ContactRequestFactory(
        partner=PartnerFactory(name="Acme Cloud"), email="secret.buyer@bigcorp.example"
    )


def test_a_signed_in_page_is_kept_by_no_cache(client, lead):
    client.force_login(PartnerUserFactory(partner=lead.partner))

    response = client.get(f"/my/leads/{lead.reference}/")

    assert response.status_code == 200 and b"secret.buyer@bigcorp.example" in response.content
    assert response["Cache-Control"] == "no-store, private"
    assert RELOAD_SCRIPT in response.content.decode()


@pytest.mark.parametrize("path", ["/", "/partners/", "/my/leads/"])
def test_every_page_a_signed_in_user_sees_is_kept_by_no_cache(client, lead, path):
    client.force_login(PartnerUserFactory(partner=lead.partner))

    response = client.get(path)

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store, private"


def test_the_api_answers_a_signed_in_user_for_them_only(client, lead):
    client.force_login(PartnerUserFactory(partner=lead.partner))

    response = client.get("/api/v1/contact-requests/")

    assert response.status_code == 200 and b"secret.buyer@bigcorp.example" in response.content
    assert response["Cache-Control"] == "no-store, private"


def test_the_api_answers_a_token_for_its_user_only(lead):
    client = api_client(PartnerUserFactory(partner=lead.partner))

    response = client.get("/api/v1/contact-requests/")

    assert response.status_code == 200 and b"secret.buyer@bigcorp.example" in response.content
    assert response["Cache-Control"] == "no-store, private"


def test_the_admin_keeps_its_own_no_store(client):
    client.force_login(PdmFactory())

    response = client.get("/admin/")

    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    assert RELOAD_SCRIPT in response.content.decode()


@pytest.mark.parametrize("path", ["/", "/partners/"])
def test_public_pages_stay_cacheable_for_visitors(client, lead, path):
    response = client.get(path)

    assert response.status_code == 200
    assert "Cache-Control" not in response
    assert RELOAD_SCRIPT not in response.content.decode()
