"""A form that fails the CSRF check (cookies blocked or expired, signed in or out in another tab) answers
the portal's own page, saying what happened and what to do, rather than Django's bare one."""

import pytest
from django.test import Client
from django.urls import reverse
from pytest_django.asserts import assertContains

from partners.models import ContactRequest
from tests.factories import PASSWORD, PartnerFactory, PartnerUserFactory

pytestmark = pytest.mark.django_db

CONTACT_REQUEST = {
    "name": "Jane Doe",
    "email": "jane@bigcorp.example",
    "company": "BigCorp",
    "country": "DE",
    "message": "We want to move our data centre to the cloud by next spring.",
}


def assert_the_portals_page(response):
    assertContains(response, "Your form was not sent", status_code=403)
    assertContains(response, "reload the page", status_code=403)
    assertContains(response, "APN Portal: the partner network's directory", status_code=403)  # the layout
    assert "CSRF verification failed" not in response.content.decode()


def test_a_contact_request_without_the_csrf_cookie_gets_the_portals_page(settings):
    settings.DEBUG = False
    partner = PartnerFactory()

    response = Client(enforce_csrf_checks=True).post(
        reverse("partners:contact", args=[partner.slug]), CONTACT_REQUEST
    )

    assert_the_portals_page(response)
    assertContains(response, "allow cookies for this site", status_code=403)
    assert not ContactRequest.objects.exists()


def test_a_sign_in_without_the_csrf_cookie_gets_the_portals_page(settings):
    settings.DEBUG = False
    user = PartnerUserFactory()

    response = Client(enforce_csrf_checks=True).post(
        reverse("login"), {"username": user.username, "password": PASSWORD}
    )

    assert_the_portals_page(response)


def test_a_form_from_before_signing_in_elsewhere_gets_the_page_of_the_user_now_signed_in():
    # Signing in rotates the CSRF token: a page opened before it, in another tab, sends the old one.
    client = Client(enforce_csrf_checks=True)
    partner = PartnerFactory()
    client.get(reverse("partners:profile", args=[partner.slug]))
    client.force_login(PartnerUserFactory(username="pat.partner"))

    response = client.post(
        reverse("partners:contact", args=[partner.slug]),
        {**CONTACT_REQUEST, "csrfmiddlewaretoken": "x" * 64},
    )

    assert_the_portals_page(response)
    assertContains(response, "Signed in as <strong>pat.partner</strong>", status_code=403)
    assert "allow cookies" not in response.content.decode()
