"""Every endpoint and method of the customer side (customers, accounts, engagements, access grants,
support), for every role, in the NetBox/pretix style; the partner-side operations the first matrix
(test_permission_matrix.py) leaves out; and a guard that the two together cover every operation of the
schema.

Three organisations: customer A, which engaged partner A (its consulting lead, holding an operations
access grant on A's member account) and buys support on one account from a reseller (a Solution Provider
with partner-led support); customer B, which engaged partner B; and the provider (A's Account Manager,
B's Account Manager, a Cloud Support Engineer, a superuser). As in the first matrix: another
organisation's private record is a 404, naming one in a body a 400 (it does not exist for the caller), a
record one may see but not change a 403, and no credentials a 401.

The statuses are those the design (docs/api.md, DESIGN.md) gives each role.
"""

import re
from dataclasses import dataclass

import pytest
from django.db import transaction
from django.test import override_settings

from engagements.models import AwsAccount
from engagements.services import aws_account_change
from engagements.tests.conftest import _organisation as engaged_customer
from partners.models import ProgramEnrollment
from partners.services import enrollment_revoke
from support import services as support_services
from support.models import SupportSubscription
from tests.api.conftest import api_client
from tests.api.test_permission_matrix import CASES as PARTNER_CASES
from tests.api.test_permission_matrix import _days, assert_cell
from tests.factories import (
    ApprovedEnrollmentFactory,
    AwsAccountFactory,
    PartnerFactory,
    PartnerUserFactory,
    SuperUserFactory,
    SupportEngineerFactory,
    SupportSubscriptionFactory,
    program,
)

CUSTOMER_ROLES = (
    "anonymous",
    "a_admin",  # customer A's access administrator
    "a_staff",  # customer A's other staff
    "b_admin",  # customer B's access administrator
    "partner_a",  # partner A's staff: engaged by customer A, with an access grant on its member account
    "partner_b",  # partner B's staff: engaged by customer B
    "reseller",  # the Solution Provider reselling one of A's accounts, with partner-led support on it
    "am_a",  # customer A's Account Manager
    "am_b",  # customer B's Account Manager
    "engineer",  # a Cloud Support Engineer: works on every customer's cases
    "superuser",
)


@dataclass
class CustomersWorld:
    a: object  # engagements.tests.conftest.Organisation
    b: object
    users: dict
    resold: object  # A's account that the reseller resells and supports
    subscription_a: object  # A's own support plan (Business Support+)
    case_a: object  # opened by A's staff on the member account partner A may act in
    case_by_partner_a: object  # opened by partner A on that account, for A
    case_resold: object  # opened by A's staff on the resold account: the reseller handles it

    def client(self, role: str):
        return api_client(self.users.get(role))


def _open_case(user, account, subject):
    return support_services.support_case_open(
        user=user,
        account=account,
        subject=subject,
        description="503 everywhere.",
        severity="general_guidance",
    )


def build_customers_world() -> CustomersWorld:
    a = engaged_customer("Alpha", 111_000_000_000)
    b = engaged_customer("Bravo", 222_000_000_000)
    reseller = PartnerFactory(name="Resell Co", slug="resell-co")
    ApprovedEnrollmentFactory(partner=reseller, program=program("solution-provider"))
    resold = AwsAccountFactory(
        customer=a.customer,
        account_id="111000000009",
        name="Alpha-resold",
        paid_by="reseller",
        reseller=reseller,
    )
    subscription_a = SupportSubscriptionFactory(customer=a.customer, plan="business-support-plus")
    SupportSubscriptionFactory(
        customer=a.customer, account=resold, plan="business-support-plus", support_partner=reseller
    )
    # Partners the matrix adds to A's engagement, or puts in partner A's place.
    PartnerFactory(name="Tech Co", slug="tech-co", partner_type="technology")
    PartnerFactory(name="Winner Co", slug="winner-co")
    users = {
        "a_admin": a.admin,
        "a_staff": a.staff,
        "b_admin": b.admin,
        "partner_a": a.partner_user,
        "partner_b": b.partner_user,
        "reseller": PartnerUserFactory(partner=reseller, username="resell-user"),
        "am_a": a.account_manager,
        "am_b": b.account_manager,
        "engineer": SupportEngineerFactory(username="engineer-eli"),
        "superuser": SuperUserFactory(username="provider-root"),
    }
    return CustomersWorld(
        a=a,
        b=b,
        users=users,
        resold=resold,
        subscription_a=subscription_a,
        case_a=_open_case(a.staff, a.member, "Alpha checkout down"),
        case_by_partner_a=_open_case(a.partner_user, a.member, "Alpha web slow"),
        case_resold=_open_case(a.staff, resold, "Resold account slow"),
    )


@pytest.fixture(scope="module")
def _customers_world_once(django_db_setup, django_db_blocker):
    """The world, built once for the module in a transaction rolled back at its end. Each test runs in a
    savepoint inside it (pytest-django's `db`), rolled back after the test: every test starts from the
    world as built, as if it had built its own, without paying for ~300 queries each time."""
    fast = {
        "PASSWORD_HASHERS": ["django.contrib.auth.hashers.MD5PasswordHasher"],
        "CACHES": {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
    }
    with django_db_blocker.unblock(), transaction.atomic():
        with override_settings(**fast):
            built = build_customers_world()
        yield built
        transaction.set_rollback(True)


@pytest.fixture
def customers_world(_customers_world_once, db) -> CustomersWorld:
    return _customers_world_once


def _grant_body(w):
    account = w.a.management.account_id
    return {
        "account": account,
        "engagement_partner": w.a.engaged.pk,
        "role_arn": f"arn:aws:iam::{account}:role/Finance",
        "scope": "billing",
    }


def _case_body(w):
    return {
        "account": w.a.member.account_id,
        "severity": "general_guidance",
        "subject": "Replica lag",
        "description": "Lag above 10 minutes.",
    }


# (name, method, path, body, expected statuses for the CUSTOMER_ROLES, in that order:
#   anonymous, a_admin, a_staff, b_admin, partner_a, partner_b, reseller, am_a, am_b, engineer, superuser)
CUSTOMER_CASES = [
    # customers: each sees its own; a partner, the customers that engaged it; staff, those they look after
    ("customers list", "get", lambda w: "/api/v1/customers/", None, (401, *[200] * 10)),
    (
        "customer register",
        "post",
        lambda w: "/api/v1/customers/",
        lambda w: {"name": "New Co", "agreement": "enterprise", "time_zone": "Europe/Paris"},
        (401, 403, 403, 403, 403, 403, 403, 201, 201, 403, 201),
    ),
    (
        "customer detail",
        "get",
        lambda w: f"/api/v1/customers/{w.a.customer.slug}/",
        None,
        (401, 200, 200, 404, 200, 404, 404, 200, 404, 404, 200),
    ),
    # accounts: a partner sees only those it may act in now (need to know)
    ("aws accounts list", "get", lambda w: "/api/v1/aws-accounts/", None, (401, *[200] * 10)),
    (
        "aws account add",
        "post",
        lambda w: "/api/v1/aws-accounts/",
        lambda w: {"customer": w.a.customer.slug, "account_id": "111000000077", "name": "analytics"},
        (401, 201, 201, 400, 403, 400, 400, 201, 400, 400, 201),
    ),
    (
        "aws account detail (granted to partner A)",
        "get",
        lambda w: f"/api/v1/aws-accounts/{w.a.member.pk}/",
        None,
        (401, 200, 200, 404, 200, 404, 404, 200, 404, 404, 200),
    ),
    (
        "aws account detail (management, no grant)",
        "get",
        lambda w: f"/api/v1/aws-accounts/{w.a.management.pk}/",
        None,
        (401, 200, 200, 404, 404, 404, 404, 200, 404, 404, 200),
    ),
    # engagements: the customer and its staff plan them; the consulting lead moves them along
    ("engagements list", "get", lambda w: "/api/v1/engagements/", None, (401, *[200] * 10)),
    (
        "engagement start",
        "post",
        lambda w: "/api/v1/engagements/",
        lambda w: {"customer": w.a.customer.slug, "title": "Data lake", "workload": "Analytics"},
        (401, 201, 201, 400, 403, 400, 400, 201, 400, 400, 201),
    ),
    (
        "engagement detail",
        "get",
        lambda w: f"/api/v1/engagements/{w.a.engagement.pk}/",
        None,
        (401, 200, 200, 404, 200, 404, 404, 200, 404, 404, 200),
    ),
    (
        "engagement advance",
        "post",
        lambda w: f"/api/v1/engagements/{w.a.engagement.pk}/advance/",
        lambda w: {"stage": "copied"},
        (401, 200, 200, 404, 200, 404, 404, 200, 404, 404, 200),
    ),
    (
        "engagement complete",
        "post",
        lambda w: f"/api/v1/engagements/{w.a.engagement.pk}/complete/",
        lambda w: {},
        (401, 200, 200, 404, 200, 404, 404, 200, 404, 404, 200),
    ),
    (
        "engagement status (on hold)",
        "post",
        lambda w: f"/api/v1/engagements/{w.a.engagement.pk}/status/",
        lambda w: {"status": "on_hold", "reason": "Budget review"},
        (401, 200, 200, 404, 403, 404, 404, 200, 404, 404, 200),
    ),
    # engagement partners: who is on the engagement is the engagement's; the customer chooses them
    ("engagement partners list", "get", lambda w: "/api/v1/engagement-partners/", None, (401, *[200] * 10)),
    (
        "engagement partner add",
        "post",
        lambda w: "/api/v1/engagement-partners/",
        lambda w: {
            "engagement": w.a.engagement.pk,
            "partner": "tech-co",
            "role": "technology",
            "contract_start": _days(0),
            "contract_end": _days(180),
        },
        (401, 201, 201, 400, 403, 400, 400, 201, 400, 400, 201),
    ),
    (
        "engagement partner detail",
        "get",
        lambda w: f"/api/v1/engagement-partners/{w.a.engaged.pk}/",
        None,
        (401, 200, 200, 404, 200, 404, 404, 200, 404, 404, 200),
    ),
    (
        "engagement partner replace",
        "post",
        lambda w: f"/api/v1/engagement-partners/{w.a.engaged.pk}/replace/",
        lambda w: {"new_partner": "winner-co", "reason": "New procurement", "contract_end": _days(365)},
        # Replacing ends the old partner's access: the customer's access administrators decide it.
        (401, 201, 403, 404, 403, 404, 404, 403, 404, 404, 201),
    ),
    (
        "engagement partner end",
        "post",
        lambda w: f"/api/v1/engagement-partners/{w.a.engaged.pk}/end/",
        lambda w: {"reason": "Taking operations in house"},
        # As replacing: it ends the partner's access, which the customer's access administrators decide.
        (401, 200, 403, 404, 403, 404, 404, 403, 404, 404, 200),
    ),
    # access grants: the customer's access administrators grant; they and the staff looking after the
    # customer revoke; the partner reads its own
    ("access grants list", "get", lambda w: "/api/v1/access-grants/", None, (401, *[200] * 10)),
    (
        "access grant create",
        "post",
        lambda w: "/api/v1/access-grants/",
        _grant_body,
        # Partner A may not see the management account, so it cannot name it.
        (401, 201, 403, 400, 400, 400, 400, 403, 400, 400, 403),
    ),
    (
        "access grant detail",
        "get",
        lambda w: f"/api/v1/access-grants/{w.a.grant.pk}/",
        None,
        (401, 200, 200, 404, 200, 404, 404, 200, 404, 404, 200),
    ),
    (
        "access grant revoke",
        "post",
        lambda w: f"/api/v1/access-grants/{w.a.grant.pk}/revoke/",
        lambda w: {"reason": "Audit finding"},
        (401, 200, 403, 404, 403, 404, 404, 200, 404, 404, 200),
    ),
    # support plans: public, like the price list
    ("support plans list", "get", lambda w: "/api/v1/support-plans/", None, (200,) * 11),
    ("support plan detail", "get", lambda w: "/api/v1/support-plans/business/", None, (200,) * 11),
    # support subscriptions: the customer's access administrators or its Account Manager change the plan
    (
        "support subscriptions list",
        "get",
        lambda w: "/api/v1/support-subscriptions/",
        None,
        (401, *[200] * 10),
    ),
    (
        "support subscription change",
        "post",
        lambda w: "/api/v1/support-subscriptions/",
        lambda w: {"customer": w.a.customer.slug, "plan": "basic"},
        (401, 201, 403, 400, 403, 400, 400, 201, 400, 400, 201),
    ),
    (
        "support subscription detail",
        "get",
        lambda w: f"/api/v1/support-subscriptions/{w.subscription_a.pk}/",
        None,
        (401, 200, 200, 404, 404, 404, 404, 200, 404, 200, 200),
    ),
    (
        "support subscription end",
        "post",
        lambda w: f"/api/v1/support-subscriptions/{w.subscription_a.pk}/end/",
        lambda w: {},
        (401, 200, 403, 404, 404, 404, 404, 200, 404, 403, 200),
    ),
    # support cases: opened by the customer or a partner it authorised; answered by support
    ("support cases list", "get", lambda w: "/api/v1/support-cases/", None, (401, *[200] * 10)),
    (
        "support case open",
        "post",
        lambda w: "/api/v1/support-cases/",
        _case_body,
        # Only the customer, or a partner it authorised, opens a case. Naming an account one cannot read is
        # a 400 (it does not exist for the caller); A's Account Manager and the superuser read it: a 403.
        (401, 201, 201, 400, 201, 400, 400, 403, 400, 400, 403),
    ),
    (
        "support case detail",
        "get",
        lambda w: f"/api/v1/support-cases/{w.case_a.pk}/",
        None,
        (401, 200, 200, 404, 404, 404, 404, 200, 404, 200, 200),
    ),
    (
        "support case detail (opened by partner A)",
        "get",
        lambda w: f"/api/v1/support-cases/{w.case_by_partner_a.pk}/",
        None,
        (401, 200, 200, 404, 200, 404, 404, 200, 404, 200, 200),
    ),
    (
        "support case replies",
        "get",
        lambda w: f"/api/v1/support-cases/{w.case_a.pk}/replies/",
        None,
        (401, 200, 200, 404, 404, 404, 404, 200, 404, 200, 200),
    ),
    (
        "support case reply",
        "post",
        lambda w: f"/api/v1/support-cases/{w.case_a.pk}/replies/",
        lambda w: {"body": "Any news?"},
        (401, 201, 201, 404, 404, 404, 404, 403, 404, 201, 201),
    ),
    (
        "support case status (support's: in progress)",
        "post",
        lambda w: f"/api/v1/support-cases/{w.case_a.pk}/status/",
        lambda w: {"status": "in_progress"},
        (401, 403, 403, 404, 404, 404, 404, 403, 404, 200, 200),
    ),
    (
        "support case status (the requester's: closed)",
        "post",
        lambda w: f"/api/v1/support-cases/{w.case_a.pk}/status/",
        lambda w: {"status": "closed"},
        (401, 200, 200, 404, 404, 404, 404, 403, 404, 403, 403),
    ),
    (
        "support case escalate",
        "post",
        lambda w: f"/api/v1/support-cases/{w.case_resold.pk}/escalate/",
        None,
        (401, 403, 403, 404, 404, 404, 200, 403, 404, 403, 403),
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "role", "expected"),
    [
        pytest.param(method, path, body, role, expected[index], id=f"{name} as {role}")
        for name, method, path, body, expected in CUSTOMER_CASES
        for index, role in enumerate(CUSTOMER_ROLES)
    ],
)
def test_customer_permission_matrix(customers_world, method, path, body, role, expected):
    assert_cell(customers_world, method, path, body, role, expected)


# A list shows a record to exactly those who may read it at its own address: no list leaks what the
# detail hides. (list, the row of CUSTOMER_CASES saying who reads the record, the field naming it, its value)
LISTS = [
    ("customers", "customer detail", "slug", lambda w: w.a.customer.slug),
    ("aws-accounts", "aws account detail (granted to partner A)", "id", lambda w: w.a.member.pk),
    ("aws-accounts", "aws account detail (management, no grant)", "id", lambda w: w.a.management.pk),
    ("engagements", "engagement detail", "id", lambda w: w.a.engagement.pk),
    ("engagement-partners", "engagement partner detail", "id", lambda w: w.a.engaged.pk),
    ("access-grants", "access grant detail", "id", lambda w: w.a.grant.pk),
    ("support-subscriptions", "support subscription detail", "id", lambda w: w.subscription_a.pk),
    ("support-cases", "support case detail", "id", lambda w: w.case_a.pk),
    ("support-cases", "support case detail (opened by partner A)", "id", lambda w: w.case_by_partner_a.pk),
]
READERS = {name: expected for name, _, _, _, expected in CUSTOMER_CASES}


@pytest.mark.parametrize(
    ("resource", "field", "value", "role", "listed"),
    [
        pytest.param(resource, field, value, role, READERS[row][index] == 200, id=f"{row} listed to {role}")
        for resource, row, field, value in LISTS
        for index, role in enumerate(CUSTOMER_ROLES)
        if role != "anonymous"
    ],
)
def test_a_list_shows_a_record_to_exactly_those_who_read_it(
    customers_world, resource, field, value, role, listed
):
    response = customers_world.client(role).get(f"/api/v1/{resource}/", {"page_size": 100})
    assert response.status_code == 200, response.content
    shown = {row[field] for row in response.json()["results"]}
    assert (value(customers_world) in shown) == listed, shown


def _take_the_resold_account_back(w):
    # A copy: the world's account is shared by the module's tests, whose changes are rolled back.
    account = AwsAccount.objects.get(pk=w.resold.pk)
    account.paid_by, account.reseller = "customer", None
    aws_account_change(user=w.a.admin, account=account, fields=["paid_by", "reseller"])


def _revoke_the_resellers_enrollment(w):
    enrollment = ProgramEnrollment.objects.get(partner=w.resold.reseller_id)
    enrollment_revoke(enrollment=enrollment, user=w.users["superuser"], reason="Audit finding")


@pytest.mark.parametrize(
    "end", [_take_the_resold_account_back, _revoke_the_resellers_enrollment], ids=["taken back", "revoked"]
)
def test_a_former_reseller_no_longer_reads_the_customers_subscription(customers_world, end):
    """Partner-led support ended without a change of plan: the subscription that still names the reseller
    is the customer's own again, as its cases are (404 to the former reseller, listed to the customer)."""
    w = customers_world
    resold = SupportSubscription.objects.get(account=w.resold, ended_at__isnull=True)
    assert w.client("reseller").get(f"/api/v1/support-subscriptions/{resold.pk}/").status_code == 200

    end(w)

    assert w.client("reseller").get(f"/api/v1/support-subscriptions/{resold.pk}/").status_code == 404
    assert w.client("reseller").get("/api/v1/support-subscriptions/").json()["results"] == []
    assert w.client("a_admin").get(f"/api/v1/support-subscriptions/{resold.pk}/").status_code == 200


def _template_pattern(template: str) -> re.Pattern:
    return re.compile(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)))


def test_every_operation_of_the_schema_is_in_a_matrix(world, customers_world):
    """A new endpoint or method cannot be left out: each (method, path) of the schema is a row of one of
    the two matrices (a path is matched to the schema's template it is an instance of)."""
    schema = api_client().get("/api/v1/schema/", {"format": "json"}).json()
    operations = {
        (method, template)
        for template, item in schema["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    }
    patterns = {template: _template_pattern(template) for _, template in operations}
    covered = set()
    for cases, w in ((PARTNER_CASES, world), (CUSTOMER_CASES, customers_world)):
        for _, method, path, _, _ in cases:
            url = path(w)
            templates = [t for t, pattern in patterns.items() if pattern.fullmatch(url)]
            # The most literal template wins: /partners/{slug}/evaluation/ over a looser one.
            for template in sorted(templates, key=lambda t: t.count("{"))[:1]:
                covered.add((method, template))
    missing = sorted(operations - covered)
    assert not missing, f"operations in no matrix: {missing}"
