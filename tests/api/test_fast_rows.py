"""The fast row rendering of big lists gives exactly what DRF's own rendering gives."""

import datetime

import pytest
from django.db.models import F
from django.utils import timezone

from apn_portal.api.serializers import FastRowsMixin
from partners.api.serializers import CertificationSerializer
from partners.models import Certification
from tests.factories import CertificationFactory


def _both(certification):
    serializer = CertificationSerializer(context={})
    fast = serializer.to_representation(certification)
    standard = super(FastRowsMixin, serializer).to_representation(certification)
    return fast, dict(standard)


@pytest.mark.parametrize("credential_id", ["", "AWS-42"])
def test_fast_rows_match_drfs_rendering(db, credential_id):
    CertificationFactory(credential_id=credential_id, earned_on=datetime.date(2024, 2, 29))
    as_listed = Certification.objects.annotate(partner_slug=F("staff_member__partner__slug")).get()
    as_read_alone = Certification.objects.get()
    for certification in (as_listed, as_read_alone):
        fast, standard = _both(certification)
        assert fast == standard
        assert fast["created_at"].endswith("Z")
        assert fast["earned_on"] == "2024-02-29"
        assert fast["partner"] == certification.staff_member.partner.slug


def test_fast_rows_keep_a_non_utc_zone_as_drf_does(db):
    certification = CertificationFactory()
    with timezone.override("Europe/Berlin"):
        fast, standard = _both(certification)
    assert fast == standard
    assert fast["updated_at"].endswith(("+01:00", "+02:00"))


def test_a_listed_certification_reads_exactly_as_its_own_page(db):
    from tests.api.conftest import api_client
    from tests.factories import SuperUserFactory

    certification = CertificationFactory(credential_id="AWS-7")
    client = api_client(SuperUserFactory())
    (listed,) = client.get("/api/v1/certifications/").json()["results"]
    assert listed == client.get(f"/api/v1/certifications/{certification.pk}/").json()


def test_a_partner_renders_as_drf_renders_it(db):
    from django.test import RequestFactory

    from partners.api.serializers import PartnerSerializer
    from tests.factories import IndustryFactory, OfficeFactory, PartnerFactory

    partner = PartnerFactory(description="Cloud migrations", website="https://example.com")
    partner.industries.add(IndustryFactory())
    OfficeFactory(partner=partner, is_headquarters=True)
    serializer = PartnerSerializer(context={"request": RequestFactory().get("/")})
    fast = serializer.to_representation(partner)
    standard = super(FastRowsMixin, serializer).to_representation(partner)
    assert fast == dict(standard)
    assert fast["tier"]["slug"] == "registered"
    assert fast["offices"][0]["country"] == "GB"
