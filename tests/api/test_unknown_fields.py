"""A name a write sends that its resource or action does not have is a 400 naming it, never dropped: a
client that misspelt a field must not believe it changed it. Every write of both permission matrices,
sent by a role it succeeds for, with one name too many."""

import pytest

from tests.api.conftest import ROLES as PARTNER_ROLES
from tests.api.test_permission_matrix import CASES as PARTNER_CASES
from tests.api.test_permission_matrix_customers import (  # noqa: F401
    CUSTOMER_CASES,
    CUSTOMER_ROLES,
    _customers_world_once,
    customers_world,
)

UNKNOWN = "job_titel"


def _writes(cases, roles) -> list:
    """(method, path, body, the first role whose request succeeds) for every write taking a body."""
    return list(_each_write(cases, roles))


def _each_write(cases, roles):
    for name, method, path, body, expected in cases:
        if method in ("post", "put", "patch") and body is not None:
            role = next((role for role, status in zip(roles, expected, strict=True) if status < 300), None)
            if role is not None:
                yield pytest.param(method, path, body, role, id=f"{name} as {role}")


def assert_refused_by_name(w, method, path, body, role):
    sent = {**body(w), UNKNOWN: "Architect"}

    response = getattr(w.client(role), method)(path(w), sent, format="json")

    assert response.status_code == 400, (response.status_code, getattr(response, "data", None))
    assert UNKNOWN in response.json(), response.json()


@pytest.mark.parametrize(("method", "path", "body", "role"), _writes(PARTNER_CASES, PARTNER_ROLES))
def test_a_partner_side_write_refuses_a_name_it_does_not_have(world, method, path, body, role):
    assert_refused_by_name(world, method, path, body, role)


@pytest.mark.parametrize(("method", "path", "body", "role"), _writes(CUSTOMER_CASES, CUSTOMER_ROLES))
def test_a_customer_side_write_refuses_a_name_it_does_not_have(customers_world, method, path, body, role):  # noqa: F811
    assert_refused_by_name(customers_world, method, path, body, role)


def test_every_error_of_the_body_is_said_in_one_answer(world):
    response = world.client("pdm_a").patch(
        f"/api/v1/staff-members/{world.staff_member_a.pk}/",
        {"jobtitle": "Architect", "email": "no"},
        format="json",
    )

    assert response.status_code == 400
    assert set(response.json()) == {"jobtitle", "email"}
