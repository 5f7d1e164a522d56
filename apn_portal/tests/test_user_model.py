"""The user model: one organisation at most, provider staff with roles, and the roles' permissions."""

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from apn_portal.accounts.choices import StaffRole
from apn_portal.accounts.models import User
from apn_portal.accounts.roles import roles_sync
from tests.factories import PartnerFactory, PartnerUserFactory, PdmFactory, StaffUserFactory, UserFactory

pytestmark = pytest.mark.django_db


# One organisation, or provider staff ----------------------------------------------------------------------


def test_provider_staff_cannot_belong_to_a_partner():
    user = UserFactory.build(is_staff=True, partner=PartnerFactory())

    with pytest.raises(ValidationError) as info:
        user.full_clean()
    assert any(
        message.startswith("Provider staff cannot also belong to a partner")
        for message in info.value.messages
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        user.save()


def test_making_a_partners_user_staff_is_refused_by_the_database():
    user = PartnerUserFactory()

    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.filter(pk=user.pk).update(is_staff=True)


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
