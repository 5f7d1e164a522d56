"""The slugs Find-a-Partner and the API filter by are lower case, so a slug typed with capitals filters.

Both read `?use_case=IoT` as `iot`: a use case saved as "IoT" was listed with its count, and ticking it
said there was no such use case and showed every partner."""

import datetime

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone
from rest_framework.test import APIClient

from partners.choices import PartnerType
from partners.models import ConsultingCategory, Industry, Partner, Tier, UseCase
from partners.tests.search_helpers import facet, names, notes, search
from tests.factories import (
    IndustryFactory,
    PartnerFactory,
    ProgramFactory,
    SuperUserFactory,
    UseCaseFactory,
    tier,
)


def category():
    return ConsultingCategory.objects.create(name="Data specialists", slug="data-specialists")


pytestmark = pytest.mark.django_db


def test_a_use_case_slug_typed_with_capitals_is_saved_in_lower_case_and_filters(client):
    client.force_login(SuperUserFactory())
    response = client.post("/admin/partners/usecase/add/", {"name": "Internet of Things", "slug": "IoT"})
    assert response.status_code == 302, response.content[:2000]
    iot = UseCase.objects.get(name="Internet of Things")
    assert iot.slug == "iot"
    PartnerFactory(name="Tagged Ltd").use_cases.add(iot)
    PartnerFactory(name="Other Ltd")
    client.logout()

    assert facet(search(client), "use_case") == {"iot": 1}
    for typed in ("iot", "IoT"):
        page = search(client, use_case=typed)
        assert (names(page), notes(page)) == (["Tagged Ltd"], [])
        listed = APIClient().get("/api/v1/partners/", {"use_case": typed})
        assert [row["name"] for row in listed.json()["results"]] == ["Tagged Ltd"]


def test_a_slug_differing_only_in_case_from_anothers_is_refused_as_taken(client):
    UseCaseFactory(name="Internet of Things", slug="iot")
    client.force_login(SuperUserFactory())

    response = client.post("/admin/partners/usecase/add/", {"name": "IoT at the edge", "slug": "IoT"})

    assert response.status_code == 200
    assert "Use case with this Slug already exists." in response.context["adminform"].form.errors["slug"]
    assert UseCase.objects.count() == 1


def test_saving_through_the_orm_stores_the_slug_in_lower_case():
    industry = Industry.objects.create(name="Health Care", slug="HealthCare")

    assert industry.slug == "healthcare"
    assert Industry.objects.get(slug="HEALTHCARE") == industry


@pytest.mark.parametrize(
    "make",
    [UseCaseFactory, IndustryFactory, category, ProgramFactory, tier],
    ids=lambda make: getattr(make, "__name__", str(make)),
)
def test_the_database_refuses_a_slug_with_capitals_written_around_the_models(make):
    record = make()
    table, pk = record._meta.db_table, record.pk

    with (
        pytest.raises(IntegrityError, match="slug_lowercase"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(f"UPDATE {table} SET slug = 'Capital' WHERE id = %s", [pk])


@pytest.mark.django_db(transaction=True)
def test_migrating_writes_existing_slugs_in_lower_case_numbering_one_that_would_take_anothers():
    before, after = (
        ("partners", "0023_profile_change_withdrawn"),
        ("partners", "0024_vocabulary_slugs_lowercase"),
    )
    executor = MigrationExecutor(connection)
    try:
        executor.migrate([before])
        old = executor.loader.project_state([before]).apps
        old_use_case, old_tier = old.get_model("partners", "UseCase"), old.get_model("partners", "Tier")
        old_use_case.objects.create(name="Internet of Things", slug="iot")
        edge = old_use_case.objects.create(name="IoT at the edge", slug="IoT")
        old_use_case.objects.create(name="Machine Learning", slug="Machine-Learning")
        old_tier.objects.create(partner_type=PartnerType.TECHNOLOGY, name="Gold", slug="Gold", rank=9)
        tagged, untagged = PartnerFactory(), PartnerFactory()
        Partner.use_cases.through.objects.create(partner_id=tagged.pk, usecase_id=edge.pk)
        long_ago = timezone.now() - datetime.timedelta(days=30)
        Partner.objects.update(updated_at=long_ago)

        MigrationExecutor(connection).migrate([after])

        assert dict(UseCase.objects.values_list("name", "slug")) == {
            "Internet of Things": "iot",
            "IoT at the edge": "iot-2",
            "Machine Learning": "machine-learning",
        }
        assert Tier.objects.get(name="Gold").slug == "gold"
        # The partner resource names its use cases by slug: a sync on updated_since sees the new one.
        assert Partner.objects.get(pk=tagged.pk).updated_at > long_ago
        assert Partner.objects.get(pk=untagged.pk).updated_at == long_ago
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
