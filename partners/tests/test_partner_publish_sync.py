"""Publishing a partner shows everybody its approved enrollments and its public references: an integrator
syncing those lists on `updated_since` receives them with the partner, however it was published (the
admin's action or change page, the API), and not an instant later when somebody happens to edit them."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from partners.tests.test_admin import change_form_data
from partners.tests.test_admin_actions import run_action
from tests.api.conftest import api_client
from tests.factories import (
    ApprovedEnrollmentFactory,
    CustomerReferenceFactory,
    PartnerFactory,
    PartnerUserFactory,
    PdmFactory,
    ProgramEnrollmentFactory,
    ProgramFactory,
)

pytestmark = pytest.mark.django_db

HOW = ["admin_action", "admin_change_page", "api_patch"]


def set_published(how: str, partner, published: bool, client) -> None:
    """Publish or unpublish `partner` as its PDM, the way `how` names."""
    pdm = partner.pdm
    if how == "api_patch":
        response = api_client(pdm).patch(
            f"/api/v1/partners/{partner.slug}/", {"is_published": published}, format="json"
        )
        assert response.status_code == 200, response.content
        return
    client.force_login(pdm)
    if how == "admin_action":
        action = "publish" if published else "unpublish"
        response = run_action(client, "admin:partners_partner_changelist", action, [partner])
        assert response.status_code == 200
        return
    url = reverse("admin:partners_partner_change", args=[partner.pk])
    data = change_form_data(client, url)
    if published:
        data["is_published"] = "on"
    else:
        data.pop("is_published", None)
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]


def public_and_private_records(partner, copies: int = 1) -> tuple[dict, dict]:
    """(What the public sees of the partner once published, what it never sees), as {resource: ids}."""
    public = {"enrollments": set(), "references": set()}
    private = {"enrollments": set(), "references": set()}
    for _ in range(copies):
        public["enrollments"].add(
            ApprovedEnrollmentFactory(partner=partner, program=ProgramFactory(partner_type="")).pk
        )
        public["references"].add(CustomerReferenceFactory(partner=partner).pk)
        private["enrollments"].add(
            ProgramEnrollmentFactory(partner=partner, program=ProgramFactory(partner_type="")).pk
        )
        private["references"].add(CustomerReferenceFactory(partner=partner, is_public=False).pk)
        private["references"].add(
            CustomerReferenceFactory(partner=partner, is_validated=False, validated_at=None).pk
        )
    return public, private


def ids(client, resource: str, **params) -> set[int]:
    response = client.get(f"/api/v1/{resource}/", {"page_size": 100, **params})
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


@pytest.mark.parametrize("how", HOW)
def test_a_sync_since_the_last_one_receives_what_publishing_shows(how, client):
    partner = PartnerFactory(slug="zephyr", pdm=PdmFactory(), is_published=False)
    public, private = public_and_private_records(partner)
    bystander_public, _ = public_and_private_records(PartnerFactory(is_published=True))
    anonymous = api_client()
    other_partners_token = api_client(PartnerUserFactory(partner=PartnerFactory()))
    last_sync = timezone.now()

    set_published(how, partner, True, client)

    since = {"updated_since": last_sync.isoformat()}
    for viewer in (anonymous, other_partners_token):
        assert ids(viewer, "partners", **since) == {partner.pk}
        for resource, shown in public.items():
            assert ids(viewer, resource) == shown | bystander_public[resource]
            assert ids(viewer, resource, **since) == shown, f"{resource}: the sync misses them"
    # Nothing its own people or the provider's staff see changed otherwise: the rest stays as it was.
    staff = api_client(partner.pdm)
    for resource in public:
        assert ids(staff, resource, **since) == public[resource], f"{resource} {private[resource]} moved"


@pytest.mark.parametrize("how", HOW)
def test_unpublishing_moves_only_the_partner(how, client):
    # Records one stops seeing do not come in a sync (docs/api.md): walking the list by id notices them.
    partner = PartnerFactory(pdm=PdmFactory(), is_published=True)
    public, _ = public_and_private_records(partner)
    last_sync = timezone.now()

    set_published(how, partner, False, client)

    staff = api_client(partner.pdm)
    since = {"updated_since": last_sync.isoformat()}
    assert ids(staff, "partners", **since) == {partner.pk}
    for resource in public:
        assert ids(staff, resource, **since) == set()
        assert ids(api_client(), resource) == set()


def publish_queries(how: str, copies: int, client) -> int:
    partner = PartnerFactory(pdm=PdmFactory(), is_published=False)
    public_and_private_records(partner, copies)
    if how == "api_patch":
        api_client(partner.pdm).get("/api/v1/")  # the token's first use costs queries of its own
    with CaptureQueriesContext(connection) as queries:
        set_published(how, partner, True, client)
    return len(queries)


@pytest.mark.parametrize("how", ["admin_action", "api_patch"])
def test_publishing_costs_the_same_statements_for_1_and_4_records_of_each_kind(how, client):
    publish_queries(how, 1, client)  # a first request fills caches (content types, permissions)
    assert publish_queries(how, 1, client) == publish_queries(how, 4, client)


def test_the_admin_action_moves_the_records_of_every_partner_it_publishes(client):
    pdm = PdmFactory()
    partners = PartnerFactory.create_batch(3, pdm=pdm, is_published=False)
    shown = [public_and_private_records(partner)[0] for partner in partners]
    last_sync = timezone.now() - datetime.timedelta(microseconds=1)
    client.force_login(pdm)

    run_action(client, "admin:partners_partner_changelist", "publish", partners)

    for resource in ("enrollments", "references"):
        expected = set().union(*(records[resource] for records in shown))
        assert ids(api_client(), resource, updated_since=last_sync.isoformat()) == expected
