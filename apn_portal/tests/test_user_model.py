"""The user model: one organisation at most, provider staff with roles, and the roles' permissions."""

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from pytest_django.asserts import assertContains
from rest_framework.authtoken.models import Token

from apn_portal.accounts.choices import StaffRole
from apn_portal.accounts.models import User
from apn_portal.accounts.roles import roles_sync
from tests.admin_forms import user_change_data
from tests.factories import (
    CustomerFactory,
    PartnerFactory,
    PartnerUserFactory,
    PdmFactory,
    StaffUserFactory,
    SuperUserFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


# One organisation, or provider staff ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("power", "organisation"),
    [("is_staff", "partner"), ("is_superuser", "partner"), ("is_superuser", "customer")],
)
def test_provider_staff_and_superusers_belong_to_no_organisation(power, organisation):
    """A superuser reads and changes everything, and provider staff see across organisations: somebody of
    a partner or a customer who were either would read the other organisations' private records, in the
    admin and through the API."""
    other = {"partner": PartnerFactory, "customer": CustomerFactory}[organisation]()
    user = UserFactory.build(**{"is_staff": False, power: True, organisation: other})

    with pytest.raises(ValidationError) as info:
        user.full_clean()
    assert (
        "Provider staff and superusers cannot also belong to a partner or customer organisation."
        in info.value.messages
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        user.save()


@pytest.mark.parametrize("power", ["is_staff", "is_superuser"])
def test_making_a_partners_user_staff_or_superuser_is_refused_by_the_database(power):
    user = PartnerUserFactory()

    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.filter(pk=user.pk).update(**{power: True})


def test_the_user_admin_refuses_a_superuser_with_an_organisation_with_a_message(client):
    user = PartnerUserFactory(username="pat")
    client.force_login(SuperUserFactory())

    response = client.post(
        reverse("admin:accounts_user_change", args=[user.pk]), user_change_data(user, is_superuser="on")
    )

    assertContains(
        response, "Provider staff and superusers cannot also belong to a partner or customer organisation."
    )
    user.refresh_from_db()
    assert not user.is_superuser


def test_partner_staff_and_provider_staff_are_both_valid():
    partner_user = UserFactory.build(partner=PartnerFactory())
    provider_user = UserFactory.build(is_staff=True)

    for user in (partner_user, provider_user):
        user.full_clean()
        user.save()

    assert not partner_user.is_provider_staff
    assert provider_user.is_provider_staff


# Roles ----------------------------------------------------------------------------------------------------


def test_a_pdm_is_a_pdm():
    pdm = PdmFactory()

    assert pdm.is_provider_staff
    assert pdm.is_pdm
    assert pdm.has_role(StaffRole.PDM)
    assert not pdm.has_role(StaffRole.ACCOUNT_MANAGER)


def test_a_partners_user_in_the_pdm_group_is_not_a_pdm():
    user = PartnerUserFactory()
    user.groups.add(Group.objects.get(name=StaffRole.PDM.value))

    assert not user.is_pdm


def test_staff_without_the_pdm_role_is_not_a_pdm():
    account_manager = StaffUserFactory(roles=[StaffRole.ACCOUNT_MANAGER])

    assert not account_manager.is_pdm
    assert account_manager.has_role(StaffRole.ACCOUNT_MANAGER)


def test_a_pdm_factory_may_be_given_other_roles_too():
    user = PdmFactory(roles=[StaffRole.PDM, StaffRole.TAM])

    assert user.is_pdm
    assert user.has_role(StaffRole.TAM)


def test_checking_several_roles_reads_the_groups_once(django_assert_num_queries):
    user = User.objects.get(pk=PdmFactory().pk)

    with django_assert_num_queries(1):
        assert user.is_pdm
        assert not user.has_role(StaffRole.ACCOUNT_MANAGER)
        assert not user.has_role(StaffRole.TAM)


# Groups and their permissions, created by migrate ---------------------------------------------------------


def permission_names(role):
    group = Group.objects.get(name=role.value)
    return {
        f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")
    }


def test_every_role_has_its_group_after_migrate():
    assert set(Group.objects.values_list("name", flat=True)) >= set(StaffRole.values)


def test_a_pdm_can_run_partners():
    permissions = permission_names(StaffRole.PDM)

    assert {
        "partners.view_partner",
        "partners.add_partner",
        "partners.change_partner",
        "partners.delete_partner",
        "partners.change_programenrollment",
        "partners.add_certification",
        "partners.change_tierrequirement",
    } <= permissions
    assert "accounts.view_user" in permissions
    assert "accounts.change_user" not in permissions


@pytest.mark.parametrize("role", [StaffRole.ACCOUNT_MANAGER, StaffRole.SOLUTIONS_ARCHITECT, StaffRole.TAM])
def test_other_roles_only_view_partners(role):
    permissions = permission_names(role)

    assert "partners.view_partner" in permissions
    assert all(name.startswith("partners.view_") for name in permissions if name.startswith("partners."))
    # They work with their customers' records (engagements.selectors narrows which) and read users.
    assert "engagements.change_engagement" in permissions
    # ... and support's: a TAM answers its customers' cases, an Account Manager changes their plans.
    apps = ("partners", "engagements", "accounts", "support")
    assert all(name.split(".")[0] in apps for name in permissions)
    assert all(name.startswith("accounts.view_") for name in permissions if name.startswith("accounts."))


def test_permissions_reach_the_users_through_their_groups():
    pdm = PdmFactory()
    account_manager = StaffUserFactory(roles=[StaffRole.ACCOUNT_MANAGER])

    assert pdm.has_perm("partners.change_partner")
    assert account_manager.has_perm("partners.view_partner")
    assert not account_manager.has_perm("partners.change_partner")


def test_syncing_roles_again_changes_nothing():
    before = {role: permission_names(role) for role in StaffRole}

    roles_sync()

    assert Group.objects.filter(name__in=StaffRole.values).count() == len(StaffRole)
    assert {role: permission_names(role) for role in StaffRole} == before


@pytest.mark.django_db(transaction=True)
def test_migrating_takes_superuser_status_and_tokens_from_a_partners_user_who_had_it():
    before, after = ("accounts", "0003_user_customer"), ("accounts", "0004_superuser_has_no_organisation")
    partner = PartnerFactory()
    provider_superuser = SuperUserFactory()
    executor = MigrationExecutor(connection)
    try:
        executor.migrate([before])
        old_user = executor.loader.project_state([before]).apps.get_model("accounts", "User")
        pat = old_user.objects.create(username="pat", partner_id=partner.pk, is_superuser=True)
        Token.objects.create(user_id=pat.pk)
        Token.objects.create(user_id=provider_superuser.pk)

        MigrationExecutor(connection).migrate([after])

        pat = User.objects.get(username="pat")
        assert (pat.partner_id, pat.is_superuser) == (partner.pk, False)
        assert list(Token.objects.values_list("user_id", flat=True)) == [provider_superuser.pk]
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
