"""The admin for the provider's staff: scoped to the customers each person looks after, grants read-only
but revocable with a reason, stages moved by action, history kept, and lists and change pages at a constant
query count."""

import datetime
import itertools

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from simple_history.template_utils import HistoricalRecordContextHelper

from engagements.models import (
    AccessGrant,
    AwsAccount,
    Customer,
    Engagement,
    EngagementPartner,
    MarketplaceSubscription,
    ProfessionalServicesEngagement,
    TeamMember,
)
from tests.factories import (
    AccountManagerFactory,
    AwsAccountFactory,
    CustomerFactory,
    CustomerUserFactory,
    EngagementFactory,
    EngagementPartnerFactory,
    PartnerFactory,
    StaffUserFactory,
    SuperUserFactory,
)

from .test_pages import grow

pytestmark = pytest.mark.django_db

MODELS = [
    "customer",
    "awsaccount",
    "engagement",
    "engagementpartner",
    "accessgrant",
    "teammember",
    "professionalservicesengagement",
    "marketplacesubscription",
    "engagementstageevent",
]


def changelist(model):
    return reverse(f"admin:engagements_{model}_changelist")


@pytest.mark.parametrize("model", MODELS)
def test_changelists_cost_the_same_however_many_rows(client, alpha, model):
    client.force_login(SuperUserFactory())
    with CaptureQueriesContext(connection) as first:
        assert client.get(changelist(model)).status_code == 200
    grow(alpha, 6)
    with CaptureQueriesContext(connection) as second:
        assert client.get(changelist(model)).status_code == 200
    assert len(second) == len(first)


def test_the_engagement_partner_list_costs_the_same_however_many_replaced_contracts_it_shows(client):
    # Its "replaced by" column names the successor with its engagement and customer.
    def replaced_pairs(count):
        for _ in range(count):
            old = EngagementPartnerFactory()
            successor = EngagementPartnerFactory(engagement=old.engagement)
            EngagementPartner.objects.filter(pk=old.pk).update(replaced_by=successor, ended_reason="Left")

    client.force_login(SuperUserFactory())
    replaced_pairs(2)
    with CaptureQueriesContext(connection) as first:
        assert client.get(changelist("engagementpartner")).status_code == 200
    replaced_pairs(10)
    with CaptureQueriesContext(connection) as second:
        response = client.get(changelist("engagementpartner"))
    assert response.content.decode().count(" as ") >= 12
    assert len(second) == len(first)


@pytest.mark.parametrize("who", ["account_manager", "superuser"])
@pytest.mark.parametrize("obj", ["customer", "engagement"])
def test_change_pages_cost_the_same_however_many_rows_they_show(client, alpha, who, obj):
    client.force_login(alpha.account_manager if who == "account_manager" else SuperUserFactory())
    url = reverse(f"admin:engagements_{obj}_change", args=[getattr(alpha, obj).pk])
    client.get(url)  # the session's first request reads more
    with CaptureQueriesContext(connection) as first:
        assert client.get(url).status_code == 200
    grow(alpha, 6)  # six more partners on the engagement, engagements and accounts for the customer
    with CaptureQueriesContext(connection) as second:
        assert client.get(url).status_code == 200
    assert len(second) == len(first)


@pytest.mark.parametrize(
    "model", ["teammember", "professionalservicesengagement", "marketplacesubscription", "engagementpartner"]
)
def test_the_engagement_autocomplete_costs_the_same_however_many_engagements_it_lists(client, model):
    # Each result is named with its customer ("Migration (Acme)").
    client.force_login(SuperUserFactory())
    url = f"/admin/autocomplete/?app_label=engagements&model_name={model}&field_name=engagement&term="
    EngagementFactory.create_batch(2)
    client.get(url)  # the session's first request reads more
    with CaptureQueriesContext(connection) as first:
        assert len(client.get(url).json()["results"]) == 2
    EngagementFactory.create_batch(10)
    with CaptureQueriesContext(connection) as second:
        assert len(client.get(url).json()["results"]) == 12
    assert len(second) == len(first)


def _engagement_rows(organisation, n: int) -> None:
    """`n` more team members, Professional Services and marketplace subscriptions (three accounts each) on
    the organisation's engagement, and more accounts on its first subscription."""
    engagement, customer = organisation.engagement, organisation.customer
    for _ in range(n):
        TeamMember.objects.create(
            engagement=engagement, user=CustomerUserFactory(customer=customer), role="customer_it"
        )
        ProfessionalServicesEngagement.objects.create(
            engagement=engagement,
            bought_by="partner",
            buying_partner=PartnerFactory(),
            consultant=StaffUserFactory(),
            goal="Move the data warehouse",
            capability_gap="Redshift tuning",
            starts_on=datetime.date(2025, 1, 1),
        )
        subscription = MarketplaceSubscription.objects.create(
            engagement=engagement, product="Backup", vendor=PartnerFactory(partner_type="technology")
        )
        subscription.accounts.add(*AwsAccountFactory.create_batch(3, customer=customer))
    first = MarketplaceSubscription.objects.filter(engagement=engagement).earliest("pk")
    first.accounts.add(*AwsAccountFactory.create_batch(n, customer=customer))


@pytest.mark.parametrize("who", ["account_manager", "superuser"])
def test_the_engagement_page_costs_the_same_however_many_team_members_services_and_subscriptions(
    client, alpha, who
):
    client.force_login(alpha.account_manager if who == "account_manager" else SuperUserFactory())
    url = reverse("admin:engagements_engagement_change", args=[alpha.engagement.pk])
    _engagement_rows(alpha, 1)
    client.get(url)  # the session's first request reads more
    with CaptureQueriesContext(connection) as first:
        assert client.get(url).status_code == 200
    _engagement_rows(alpha, 10)
    with CaptureQueriesContext(connection) as second:
        response = client.get(url)
    assert response.content.decode().count("Redshift tuning") == 11
    assert len(second) == len(first)


@pytest.mark.parametrize("role", ["managed_service", "reseller"])
def test_a_partner_that_no_longer_qualifies_for_its_role_still_has_its_territory_edited(client, role):
    # Engaged while in the program its role asks for (Managed Service Provider, Solution Provider), which
    # has ended since: the contract stands, and its territory is still edited on its page.
    engaged = EngagementPartnerFactory(partner=PartnerFactory(partner_type="consulting"), role=role)
    client.force_login(SuperUserFactory())
    url = reverse("admin:engagements_engagementpartner_change", args=[engaged.pk])

    response = client.post(url, {"territory": "Europe", "business_function": "Finance"})

    assert response.status_code == 302, response.content.decode()[:2000]
    engaged.refresh_from_db()
    assert (engaged.territory, engaged.business_function, engaged.role) == ("Europe", "Finance", role)


def test_a_models_rule_about_a_field_the_page_shows_read_only_is_said_above_the_form(client, monkeypatch):
    # A rule of the model (its clean()) about the role, which this page shows read-only: said, not a 500.
    def role_refused(engaged):
        raise ValidationError({"role": "No longer offered to this partner."})

    monkeypatch.setattr(EngagementPartner, "clean", role_refused)
    engaged = EngagementPartnerFactory(territory="Americas")
    client.force_login(SuperUserFactory())
    url = reverse("admin:engagements_engagementpartner_change", args=[engaged.pk])

    response = client.post(url, {"territory": "Europe", "business_function": ""})

    assert response.status_code == 200
    assert "Role: No longer offered to this partner." in response.content.decode()
    engaged.refresh_from_db()
    assert engaged.territory == "Americas"


def test_change_pages_open(client, alpha):
    client.force_login(SuperUserFactory())
    for obj in (alpha.customer, alpha.member, alpha.engagement, alpha.engaged, alpha.grant):
        url = reverse(f"admin:engagements_{obj._meta.model_name}_change", args=[obj.pk])
        assert client.get(url).status_code == 200, url
        history = reverse(f"admin:engagements_{obj._meta.model_name}_history", args=[obj.pk])
        assert client.get(history).status_code == 200, history


def _customer_with_versions(n: int):
    """A customer with `n` more versions, alternately renamed and giving or taking an access
    administrator's place."""
    customer = CustomerFactory()
    administrator = CustomerUserFactory(customer=customer, first_name="Ada", last_name=f"Admin {customer.pk}")
    for i in range(n):
        if i % 2:
            customer.name = f"{customer.slug} v{i}"
            customer.save()
        elif i % 4:
            customer.access_administrators.remove(administrator)
        else:
            customer.access_administrators.add(administrator)
    return customer, administrator


def test_a_customers_history_costs_the_same_however_many_versions_it_shows(client):
    client.force_login(SuperUserFactory())
    (few, _), (many, gone) = _customer_with_versions(3), _customer_with_versions(30)
    gone.delete()  # its versions still name it, as a deleted user

    def history(customer):
        url = reverse("admin:engagements_customer_history", args=[customer.pk])
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code == 200
        return len(queries), response

    client.get(reverse("admin:engagements_customer_history", args=[few.pk]))  # the session's first request
    few_queries, _ = history(few)
    many_queries, response = history(many)

    assert many_queries == few_queries
    # Each version still lists what changed, access administrators included, as the library itself says.
    records = list(response.context["page_obj"])
    for newer, older in itertools.pairwise(records):
        expected = HistoricalRecordContextHelper(Customer, newer).context_for_delta_changes(
            newer.diff_against(older, foreign_keys_are_objs=True)
        )
        assert newer.history_delta_changes == expected
    shown = [change["field"] for record in records[:-1] for change in record.history_delta_changes]
    assert shown.count("Access administrators") == 15
    assert shown.count("Name") == 15


def test_account_manager_sees_only_the_customers_they_look_after(client, alpha, bravo):
    client.force_login(alpha.account_manager)
    for model, mine, theirs in (
        ("customer", "Alpha Customer", "Bravo Customer"),
        ("awsaccount", alpha.member.account_id, bravo.member.account_id),
        ("engagement", alpha.engagement.title, bravo.engagement.title),
        ("accessgrant", alpha.grant.role_name, bravo.grant.role_name),
    ):
        body = client.get(changelist(model)).content.decode()
        assert mine in body and theirs not in body, model
    other = reverse("admin:engagements_engagement_change", args=[bravo.engagement.pk])
    assert client.get(other).status_code == 302  # Django's "does not exist" redirect to the admin index


def test_grants_are_not_added_in_the_admin(client, alpha):
    client.force_login(SuperUserFactory())
    assert client.get(reverse("admin:engagements_accessgrant_add")).status_code == 403


def test_revoke_action_asks_for_a_reason_then_revokes_and_records_who(client, alpha):
    client.force_login(alpha.account_manager)
    data = {"action": "revoke", "_selected_action": [alpha.grant.pk]}
    asks = client.post(changelist("accessgrant"), data)
    assert asks.status_code == 200 and "Revoke access grants" in asks.content.decode()
    assert AccessGrant.objects.get(pk=alpha.grant.pk).revoked_at is None
    done = client.post(changelist("accessgrant"), {**data, "apply": "1", "reason": "Security incident"})
    assert done.status_code == 302
    grant = AccessGrant.objects.get(pk=alpha.grant.pk)
    assert grant.revoked_by == alpha.account_manager and grant.revocation_reason == "Security incident"
    assert grant.history.latest().history_user == alpha.account_manager


def test_advance_action_goes_through_the_rules(client, alpha):
    client.force_login(alpha.account_manager)
    data = {"action": "advance_stage", "_selected_action": [alpha.engagement.pk], "apply": "1"}
    client.post(changelist("engagement"), {**data, "targets": [f"{alpha.engagement.pk}:copied"]})
    assert Engagement.objects.get(pk=alpha.engagement.pk).stage == "copied"
    Engagement.objects.filter(pk=alpha.engagement.pk).update(status="on_hold")
    response = client.post(
        changelist("engagement"), {**data, "targets": [f"{alpha.engagement.pk}:rehosted"]}, follow=True
    )
    assert "is on hold; resume it before advancing" in response.content.decode()
    assert Engagement.objects.get(pk=alpha.engagement.pk).stage == "copied"


def test_cancel_action_needs_a_reason_and_ends_access(client, alpha):
    # Cancelling ends the running contract: its customer's access administrators' call, or a superuser's.
    client.force_login(SuperUserFactory())
    data = {"action": "change_status", "_selected_action": [alpha.engagement.pk], "apply": "1"}
    response = client.post(
        changelist("engagement"), {**data, "status": "cancelled", "reason": ""}, follow=True
    )
    assert "Say why the engagement is cancelled" in response.content.decode()
    client.post(changelist("engagement"), {**data, "status": "cancelled", "reason": "Budget cut"})
    assert Engagement.objects.get(pk=alpha.engagement.pk).status == "cancelled"
    grant = AccessGrant.objects.get(pk=alpha.grant.pk)
    assert grant.revocation_reason == "Engagement cancelled: Budget cut"


def test_an_engagement_added_in_the_admin_starts_on_the_customers_day(client):
    """18:00 on 2 March in Los Angeles is already 3 March in UTC: the first step is dated 2 March, so the
    next step can be recorded that evening."""
    import datetime

    import time_machine

    from engagements.services import engagement_stage_advance
    from tests.factories import CustomerFactory

    superuser = SuperUserFactory()
    customer = CustomerFactory(time_zone="America/Los_Angeles")
    client.force_login(superuser)
    with time_machine.travel(datetime.datetime(2026, 3, 3, 2, 0, tzinfo=datetime.UTC), tick=False):
        page = client.get(reverse("admin:engagements_engagement_add"))
        data = {"customer": customer.pk, "title": "Move", "workload": "WordPress"}
        data["procurement_model"] = "direct"
        for inline in page.context["inline_admin_formsets"]:
            management = inline.formset.management_form
            for name in ("INITIAL_FORMS", "MIN_NUM_FORMS", "MAX_NUM_FORMS"):
                data[f"{management.prefix}-{name}"] = management[name].value()
            data[f"{management.prefix}-TOTAL_FORMS"] = 0
        response = client.post(reverse("admin:engagements_engagement_add"), data)
        assert response.status_code == 302, response.content.decode()[:2000]
        engagement = Engagement.objects.get(title="Move")
        assert engagement.stage_events.get().reached_on == datetime.date(2026, 3, 2)
        engagement_stage_advance(user=superuser, engagement=engagement)
    assert engagement.stage_events.count() == 2


def _engagement_add_form(client, **fields):
    page = client.get(reverse("admin:engagements_engagement_add"))
    data = {"title": "Move", "workload": "WordPress", "procurement_model": "direct", **fields}
    for inline in page.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        for name in ("INITIAL_FORMS", "MIN_NUM_FORMS", "MAX_NUM_FORMS"):
            data[f"{management.prefix}-{name}"] = management[name].value()
        data[f"{management.prefix}-TOTAL_FORMS"] = 0
    return data


def test_an_engagement_added_in_the_admin_starts_as_the_service_starts_it(client, alpha):
    """The admin starts an engagement through engagement_create: the same first step, note, author and
    history as on the pages and the API."""
    from engagements.services import engagement_create

    client.force_login(alpha.account_manager)
    url = reverse("admin:engagements_engagement_add")
    response = client.post(url, _engagement_add_form(client, customer=alpha.customer.pk, title=" Move "))
    assert response.status_code == 302, response.content.decode()[:2000]
    by_admin = Engagement.objects.get(title="Move")
    by_service = engagement_create(
        user=alpha.account_manager, customer=alpha.customer, title="Moved", workload="WordPress"
    )

    def started(engagement):
        event = engagement.stage_events.get()
        return (
            engagement.status,
            engagement.stage,
            engagement.created_by,
            (event.stage, event.reached_on, event.recorded_by, event.note),
            [h.history_type for h in engagement.history.all()],
        )

    assert started(by_admin) == started(by_service)
    assert by_admin.stage_events.get().note == "Where the engagement starts."
    assert by_admin.history.get().history_user == alpha.account_manager


def test_the_admin_refuses_an_engagement_the_service_would_refuse(client, alpha, bravo):
    """An Account Manager on one of Bravo's teams sees Bravo, but does not look after it: starting an
    engagement for it is refused on the form, as the service refuses it, and nothing is saved."""
    from engagements.models import TeamMember

    TeamMember.objects.create(engagement=bravo.engagement, user=alpha.account_manager, role="account_manager")
    client.force_login(alpha.account_manager)
    url = reverse("admin:engagements_engagement_add")
    response = client.post(url, _engagement_add_form(client, customer=bravo.customer.pk))
    assert response.status_code == 200
    assert "You cannot start engagements for Bravo Customer." in response.content.decode()
    assert not Engagement.objects.filter(title="Move").exists()


def test_an_engagement_added_in_the_admin_keeps_its_inlines_and_log(client, alpha):
    """The admin goes on with the engagement the service started: a team member added on the same form
    joins it, the log entry names it, and the admin opens it."""
    from django.contrib.admin.models import ADDITION, LogEntry

    client.force_login(alpha.account_manager)
    data = _engagement_add_form(client, customer=alpha.customer.pk)
    page = client.get(reverse("admin:engagements_engagement_add"))
    (team,) = [
        i.formset for i in page.context["inline_admin_formsets"] if i.formset.model.__name__ == "TeamMember"
    ]
    data[f"{team.prefix}-TOTAL_FORMS"] = 1
    data.update({f"{team.prefix}-0-name": "Ada IT", f"{team.prefix}-0-role": "customer_it"})
    data[f"{team.prefix}-0-joined_on"] = "2026-01-05"
    response = client.post(reverse("admin:engagements_engagement_add"), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    engagement = Engagement.objects.get(title="Move")
    assert [member.name for member in engagement.team_members.all()] == ["Ada IT"]
    assert engagement.stage_events.get().recorded_by == alpha.account_manager
    logged = LogEntry.objects.get(action_flag=ADDITION, object_id=str(engagement.pk))
    assert logged.user == alpha.account_manager and logged.object_repr == str(engagement)
    assert engagement.history.count() == 1


def test_one_edit_of_a_customer_with_its_time_zone_is_one_change_in_its_history(client, alpha):
    customer = alpha.customer
    before = customer.history.count()
    client.force_login(alpha.account_manager)
    data = {
        "name": "Alpha Renamed",
        "slug": customer.slug,
        "agreement": customer.agreement,
        "time_zone": "Asia/Tokyo",
        "account_manager": customer.account_manager_id or "",
        "solutions_architect": customer.solutions_architect_id or "",
        "tam": customer.tam_id or "",
        "access_administrators": list(customer.access_administrators.values_list("pk", flat=True)),
        "accounts-TOTAL_FORMS": 0,
        "accounts-INITIAL_FORMS": 0,
    }
    response = client.post(reverse("admin:engagements_customer_change", args=[customer.pk]), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert customer.history.count() == before + 1
    latest = customer.history.latest()
    assert (latest.name, latest.time_zone, latest.history_user) == (
        "Alpha Renamed",
        "Asia/Tokyo",
        alpha.account_manager,
    )


def test_an_inline_autocomplete_choice_that_cannot_be_an_id_is_an_invalid_choice(client, alpha):
    """The engagement page's team inline, like every admin form: odd input is a form error, not a 500."""
    client.force_login(SuperUserFactory())
    url = reverse("admin:engagements_engagement_change", args=[alpha.engagement.pk])
    page = client.get(url)
    assert page.status_code == 200
    data = {
        key: value
        for key, value in page.context["adminform"].form.initial.items()
        if isinstance(value, str | int)
    }
    prefix = "team_members"
    for formset in page.context["inline_admin_formsets"]:
        management = formset.formset.management_form
        for name, field in management.fields.items():
            data[f"{formset.formset.prefix}-{name}"] = management.initial.get(name, field.initial) or 0
        if formset.formset.model.__name__ == "TeamMember":
            prefix = formset.formset.prefix
    data[f"{prefix}-TOTAL_FORMS"] = 1
    data[f"{prefix}-0-user"] = "abc"
    response = client.post(url, data)
    assert response.status_code == 200


def test_an_account_manager_only_on_a_customers_team_cannot_add_an_account_to_it(client):
    # Being on one of its engagements' teams lets them see the customer, not manage it (aws_account_create).
    customer = CustomerFactory(name="Gamma", account_manager=AccountManagerFactory())
    helper = AccountManagerFactory(username="helper-am")
    TeamMember.objects.create(
        engagement=EngagementFactory(customer=customer), user=helper, role="account_manager"
    )
    client.force_login(helper)

    response = client.post(
        reverse("admin:engagements_awsaccount_add"),
        {"account_id": "333000000001", "name": "Planted", "customer": customer.pk, "paid_by": "customer"},
    )

    assert response.status_code == 200
    assert "You cannot add accounts to Gamma." in response.content.decode()
    assert not AwsAccount.objects.filter(account_id="333000000001").exists()
