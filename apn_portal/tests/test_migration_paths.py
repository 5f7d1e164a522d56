"""A deployed portal's upgrades and rollbacks: `migrate` forward from an older release, back one release,
and every later deploy's `migrate` after staff edited the default reference data."""

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from engagements.models import AccessGrant
from partners.models import ConsultingCategory, Partner, PartnerSearchEntry, Program
from partners.tests.search_helpers import names, search
from support.models import SupportPlan
from tests.factories import PartnerFactory


def _migrate(*targets):
    MigrationExecutor(connection).migrate(list(targets))


def _migrate_to_the_latest():
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_an_upgrade_from_before_the_search_entries_fills_them(client):
    PartnerFactory(name="Slash Works", description="AI/ML and CI/CD on AWS.")
    try:
        _migrate(("partners", "0004_office_coordinates_both_or_neither"))  # before the entries existed
        _migrate_to_the_latest()
        assert PartnerSearchEntry.objects.count() == Partner.objects.count() == 1
        assert names(search(client, q="ML")) == ["Slash Works"]
    finally:
        _migrate_to_the_latest()


@pytest.mark.django_db(transaction=True)
def test_engagements_roll_back_one_release_past_the_grant_last_day_and_forward_again():
    try:
        _migrate(("engagements", "0004_plausible_dates"))
        applied = MigrationExecutor(connection).loader.applied_migrations
        assert ("engagements", "0005_grant_last_day") not in applied
        _migrate_to_the_latest()
        assert [field.name for field in AccessGrant._meta.concrete_fields if field.name == "last_day"] == [
            "last_day"
        ]
    finally:
        _migrate_to_the_latest()


@pytest.mark.django_db(transaction=True)
def test_support_rolled_back_to_zero_ends_cleanly_and_comes_back_with_its_plans():
    try:
        # The post_migrate handlers run after it, with the support tables gone.
        call_command("migrate", "support", "zero", interactive=False, verbosity=0)
        call_command("migrate", interactive=False, verbosity=0)
        assert SupportPlan.objects.filter(slug="enterprise").exists()
    finally:
        _migrate_to_the_latest()


@pytest.mark.django_db
def test_staff_edits_of_the_defaults_stay_through_every_later_migrate():
    agency = ConsultingCategory.objects.get(slug="agency")
    ConsultingCategory.objects.filter(pk=agency.pk).update(slug="digital-agency")
    program = Program.objects.order_by("pk").first()
    Program.objects.filter(pk=program.pk).update(slug=f"{program.slug}-2027")
    retired = Program.objects.order_by("pk").last()
    retired.delete()
    plan = SupportPlan.objects.get(slug="enterprise")
    SupportPlan.objects.filter(pk=plan.pk).update(slug="enterprise-2027")

    call_command("migrate", interactive=False, verbosity=0)

    assert list(ConsultingCategory.objects.filter(name=agency.name).values_list("slug", flat=True)) == [
        "digital-agency"
    ]
    assert list(Program.objects.filter(name=program.name).values_list("slug", flat=True)) == [
        f"{program.slug}-2027"
    ]
    assert not Program.objects.filter(name=retired.name).exists()
    plan_slugs = SupportPlan.objects.filter(name=plan.name).values_list("slug", flat=True)
    assert list(plan_slugs) == ["enterprise-2027"]
