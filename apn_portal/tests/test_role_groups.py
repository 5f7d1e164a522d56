"""The provider staff roles are the groups of their names (User.has_role): a role's group keeps its name and
the permissions the role needs, and is never deleted, in the admin (Authentication → Groups) or anywhere
else. Other groups stay the admin's to rename and delete."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import ProtectedError
from django.urls import reverse

from apn_portal.accounts.choices import StaffRole
from apn_portal.accounts.models import User
from tests.factories import SuperUserFactory, TamFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(SuperUserFactory())
    return client


def shown_messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def tam_group() -> Group:
    return Group.objects.get(name=StaffRole.TAM.value)


def still_a_tam(user) -> bool:
    return User.objects.get(pk=user.pk).has_role(StaffRole.TAM)


def change_url(group) -> str:
    return reverse("admin:auth_group_change", args=[group.pk])


def group_form_data(group, **changes) -> dict:
    return {"name": group.name, "permissions": [p.pk for p in group.permissions.all()], **changes}


def delete_selected(client, pks):
    return client.post(
        reverse("admin:auth_group_changelist"),
        {"action": "delete_selected", "_selected_action": list(pks), "post": "yes"},
    )


# In the admin -------------------------------------------------------------------------------------------


def test_a_role_groups_page_shows_its_name_read_only_and_no_delete(admin_client):
    page = admin_client.get(change_url(tam_group()))

    assert "name" not in page.context["adminform"].form.fields
    assert StaffRole.TAM.value in page.content.decode()
    assert page.context["has_delete_permission"] is False


def test_renaming_the_tam_group_in_the_admin_keeps_its_name_and_its_tams(admin_client):
    tam = TamFactory()
    group = tam_group()

    response = admin_client.post(change_url(group), group_form_data(group, name="TAMs (old)"))

    assert response.status_code == 302
    assert Group.objects.get(pk=group.pk).name == StaffRole.TAM.value
    assert still_a_tam(tam)


def test_a_role_group_keeps_the_permissions_its_role_needs(admin_client):
    group = tam_group()
    needed = Permission.objects.get(content_type__app_label="support", codename="change_supportcase")

    data = group_form_data(group)
    data["permissions"] = [pk for pk in data["permissions"] if pk != needed.pk]
    response = admin_client.post(change_url(group), data)

    assert response.status_code == 200
    assert "Can change support case" in str(response.context["adminform"].form.errors["permissions"])
    assert group.permissions.filter(pk=needed.pk).exists()


def test_a_role_group_may_be_given_more_permissions_and_have_them_taken_back(admin_client):
    group = tam_group()
    extra = Permission.objects.get(content_type__app_label="partners", codename="change_partner")

    admin_client.post(
        change_url(group),
        group_form_data(group, permissions=[*group_form_data(group)["permissions"], extra.pk]),
    )
    assert group.permissions.filter(pk=extra.pk).exists()

    data = group_form_data(group)
    data["permissions"] = [pk for pk in data["permissions"] if pk != extra.pk]
    assert admin_client.post(change_url(group), data).status_code == 302
    assert not group.permissions.filter(pk=extra.pk).exists()


def test_deleting_the_tam_group_from_its_page_is_refused(admin_client):
    tam = TamFactory()
    group = tam_group()

    response = admin_client.post(reverse("admin:auth_group_delete", args=[group.pk]), {"post": "yes"})

    assert response.status_code == 302 and response.url == change_url(group)
    assert any(
        f"Not deleted: {StaffRole.TAM.value} is a provider staff role" in m for m in shown_messages(response)
    )
    assert Group.objects.filter(pk=group.pk).exists()
    assert still_a_tam(tam)


def test_the_bulk_delete_refuses_a_selection_holding_a_role_group(admin_client):
    tam = TamFactory()
    group = tam_group()
    custom = Group.objects.create(name="Reviewers")

    response = delete_selected(admin_client, [group.pk, custom.pk])

    assert response.status_code == 302
    assert any(
        f"Not deleted: {StaffRole.TAM.value} is a provider staff role" in m for m in shown_messages(response)
    )
    assert Group.objects.filter(pk__in=[group.pk, custom.pk]).count() == 2
    assert still_a_tam(tam)


def test_a_custom_group_is_still_renamed_and_deleted_in_the_admin(admin_client):
    custom = Group.objects.create(name="Reviewers")
    assert "name" in admin_client.get(change_url(custom)).context["adminform"].form.fields

    admin_client.post(change_url(custom), group_form_data(custom, name="Auditors"))
    assert Group.objects.get(pk=custom.pk).name == "Auditors"

    response = admin_client.post(reverse("admin:auth_group_delete", args=[custom.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not Group.objects.filter(pk=custom.pk).exists()

    other = Group.objects.create(name="Interns")
    delete_selected(admin_client, [other.pk])
    assert not Group.objects.filter(pk=other.pk).exists()


def test_the_group_list_says_which_groups_are_roles_in_constant_queries(
    admin_client, django_assert_max_num_queries
):
    Group.objects.create(name="Reviewers")
    url = reverse("admin:auth_group_changelist")
    admin_client.get(url)  # sessions, content types and the like cached

    with django_assert_max_num_queries(10) as few:
        page = admin_client.get(url)
    Group.objects.bulk_create(Group(name=f"Custom {i}") for i in range(20))
    with django_assert_max_num_queries(len(few.captured_queries)):
        admin_client.get(url)

    rows = {str(group): portal_role for group, portal_role in _role_column(page)}
    assert rows[StaffRole.TAM.value] is True and rows["Reviewers"] is False


def _role_column(page):
    model_admin = page.context["cl"].model_admin
    return [(group, model_admin.portal_role(group)) for group in page.context["cl"].result_list]


# Below the admin ----------------------------------------------------------------------------------------


def test_a_role_group_cannot_be_renamed_from_code():
    group = tam_group()
    group.name = "TAMs (old)"

    with pytest.raises(ValidationError, match="provider staff role"):
        group.save()

    assert tam_group().pk == group.pk


@pytest.mark.parametrize("how", ["instance", "queryset"])
def test_a_role_group_cannot_be_deleted_from_code(how):
    tam = TamFactory()

    # Refused within the delete's transaction, which the caller's then rolls back.
    with pytest.raises(ProtectedError, match="provider staff role"), transaction.atomic():
        if how == "instance":
            tam_group().delete()
        else:
            Group.objects.filter(name__in=[StaffRole.TAM.value, StaffRole.PDM.value]).delete()

    assert Group.objects.filter(name__in=StaffRole.values).count() == len(StaffRole)
    assert still_a_tam(tam)


def test_a_custom_group_is_still_renamed_and_deleted_from_code():
    custom = Group.objects.create(name="Reviewers")
    custom.name = "Auditors"
    custom.save()
    custom.delete()

    assert not Group.objects.filter(name__in=["Reviewers", "Auditors"]).exists()
