"""What the admin must not let anybody delete or empty: the Basic plan every unsubscribed customer is on, a
plan's first-response targets that its customers open cases at, and the certification that qualifies a
designated TAM. Each is refused with the reason, on the record's page and in the bulk action alike."""

import datetime

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from support import services
from support.models import PlanResponseTarget, StaffCertification, SupportPlan
from tests.factories import (
    StaffCertificationFactory,
    StaffUserFactory,
    SupportSubscriptionFactory,
    support_plan,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser(db):
    return StaffUserFactory(username="root", is_superuser=True)


def shown_messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def delete_selected(client, changelist: str, pks):
    return client.post(
        reverse(changelist), {"action": "delete_selected", "_selected_action": list(pks), "post": "yes"}
    )


# The Basic plan ----------------------------------------------------------------------------------------


def test_the_basic_plan_cannot_be_deleted_from_its_page(client, superuser, alpha):
    basic = support_plan("basic")
    client.force_login(superuser)
    change_url = reverse("admin:support_supportplan_change", args=[basic.pk])
    assert client.get(change_url).context["has_delete_permission"] is False

    response = client.post(reverse("admin:support_supportplan_delete", args=[basic.pk]), {"post": "yes"})

    assert response.status_code == 302 and response.url == change_url
    assert any("every customer without a subscription" in m for m in shown_messages(response))
    assert SupportPlan.objects.filter(slug="basic").exists()
    # The customer on Basic still has its support page.
    client.force_login(alpha.admin)
    assert client.get(reverse("support:home")).status_code == 200


def test_the_bulk_delete_refuses_a_selection_holding_the_basic_plan(client, superuser):
    basic = support_plan("basic")
    unused = SupportPlan.objects.create(
        name="Trial",
        slug="trial",
        rank=5,
        trusted_advisor="core",
        technical_support_hours="none",
        available_from=datetime.date(2026, 1, 1),
    )
    client.force_login(superuser)

    response = delete_selected(client, "admin:support_supportplan_changelist", [basic.pk, unused.pk])

    assert response.status_code == 302
    assert any("Not deleted: Basic is the plan" in m for m in shown_messages(response))
    assert SupportPlan.objects.filter(pk__in=[basic.pk, unused.pk]).count() == 2
    # Alone, a plan nothing refers to still goes.
    delete_selected(client, "admin:support_supportplan_changelist", [unused.pk])
    assert not SupportPlan.objects.filter(pk=unused.pk).exists()


def test_a_plan_customers_were_on_is_retired_not_deleted(client, superuser, alpha):
    plan = support_plan("enterprise-on-ramp")
    subscription = SupportSubscriptionFactory(customer=alpha.customer, plan=plan)
    subscription.ended_at = timezone.now()
    subscription.save()
    client.force_login(superuser)

    response = client.post(reverse("admin:support_supportplan_delete", args=[plan.pk]), {"post": "yes"})

    assert response.status_code == 302
    assert any("retire it instead" in m for m in shown_messages(response))
    assert SupportPlan.objects.filter(pk=plan.pk).exists()


def test_the_basic_plans_slug_cannot_be_edited(client, superuser):
    basic = support_plan("basic")
    client.force_login(superuser)

    form = client.get(reverse("admin:support_supportplan_change", args=[basic.pk])).context["adminform"].form

    assert "slug" not in form.fields


# First-response targets --------------------------------------------------------------------------------


def plan_form_data(client, plan, *, delete=(), minutes=None) -> dict:
    """The plan's change form as shown, its targets marked for deletion by severity."""
    form = client.get(reverse("admin:support_supportplan_change", args=[plan.pk])).context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None}
    data["successor"] = plan.successor_id or ""
    for field in (
        "customer_service_24x7",
        "health_dashboard",
        "health_api",
        "support_forums",
        "documentation",
        "via_email",
        "via_chat",
        "via_phone",
    ):
        if getattr(plan, field):
            data[field] = "on"
    for field in ("trusted_advisor", "available_from", "retires_on"):
        data[field] = getattr(plan, field) or ""
    targets = list(plan.response_targets.order_by("-minutes", "id"))
    data.update(
        {
            "response_targets-TOTAL_FORMS": str(len(targets)),
            "response_targets-INITIAL_FORMS": str(len(targets)),
            "response_targets-MIN_NUM_FORMS": "0",
            "response_targets-MAX_NUM_FORMS": "1000",
        }
    )
    for i, row in enumerate(targets):
        data.update(
            {
                f"response_targets-{i}-id": row.pk,
                f"response_targets-{i}-plan": plan.pk,
                f"response_targets-{i}-severity": row.severity,
                f"response_targets-{i}-minutes": (minutes or {}).get(row.severity, row.minutes),
            }
        )
        if row.severity in delete or delete == "all":
            data[f"response_targets-{i}-DELETE"] = "on"
    return data


def target_errors(response) -> str:
    return " ".join(
        " ".join(inline.formset.non_form_errors()) for inline in response.context["inline_admin_formsets"]
    )


def test_support_staff_cannot_empty_a_subscribed_plans_targets(client, engineer, bravo, tam):
    plan = support_plan("enterprise")
    SupportSubscriptionFactory(customer=bravo.customer, plan=plan, tam=tam)
    before = set(plan.response_targets.values_list("pk", flat=True))
    client.force_login(engineer)
    url = reverse("admin:support_supportplan_change", args=[plan.pk])

    response = client.post(url, plan_form_data(client, plan, delete="all"))

    assert response.status_code == 200
    assert "keep a first-response target for at least one severity" in target_errors(response)
    assert set(plan.response_targets.values_list("pk", flat=True)) == before


def test_a_plan_with_technical_support_keeps_at_least_one_target(client, engineer):
    plan = support_plan("business-support-plus")  # nobody is on it yet
    client.force_login(engineer)
    url = reverse("admin:support_supportplan_change", args=[plan.pk])

    refused = client.post(url, plan_form_data(client, plan, delete="all"))

    assert refused.status_code == 200
    assert "keep a first-response target" in target_errors(refused)
    assert plan.response_targets.count() == 5
    # Dropping some is fine while nobody is on the plan.
    done = client.post(url, plan_form_data(client, plan, delete=["business_critical_down"]))
    assert done.status_code == 302
    assert plan.response_targets.count() == 4


def test_customers_keep_the_severities_their_plan_promised(client, engineer, bravo, tam):
    plan = support_plan("enterprise")
    SupportSubscriptionFactory(customer=bravo.customer, plan=plan, tam=tam)
    client.force_login(engineer)
    url = reverse("admin:support_supportplan_change", args=[plan.pk])

    refused = client.post(url, plan_form_data(client, plan, delete=["business_critical_down"]))

    assert refused.status_code == 200
    assert "business-critical system down" in target_errors(refused)
    assert plan.response_targets.filter(severity="business_critical_down").exists()
    done = client.post(url, plan_form_data(client, plan, minutes={"business_critical_down": 10}))
    assert done.status_code == 302
    assert PlanResponseTarget.objects.get(plan=plan, severity="business_critical_down").minutes == 10


def test_a_subscribed_plan_cannot_drop_its_technical_support(client, engineer, alpha):
    plan = support_plan("business")
    SupportSubscriptionFactory(customer=alpha.customer, plan=plan)
    client.force_login(engineer)
    url = reverse("admin:support_supportplan_change", args=[plan.pk])
    data = plan_form_data(client, plan, delete="all")
    data["technical_support_hours"] = "none"
    for field in ("via_email", "via_chat", "via_phone"):
        data.pop(field, None)

    refused = client.post(url, data)

    assert refused.status_code == 200
    errors = target_errors(refused)
    assert "Customers are on Business now" in errors and "production system down" in errors
    assert "retire the plan" in errors
    plan.refresh_from_db()
    assert plan.technical_support_hours == "around_the_clock"
    assert plan.response_targets.count() == 4
    # Alpha still opens the production-down case it was promised a first response to.
    case = services.support_case_open(
        user=alpha.staff, account=alpha.account, subject="Down", description="d", severity="production_down"
    )
    assert case.response_target_minutes == 60
    # Keeping the targets while dropping the hours is refused the same way, not told to remove them.
    kept = plan_form_data(client, plan)
    kept["technical_support_hours"] = "none"
    for field in ("via_email", "via_chat", "via_phone"):
        kept.pop(field, None)
    assert "Customers are on Business now" in target_errors(client.post(url, kept))


# A designated TAM's certification ------------------------------------------------------------------------


def test_the_certification_qualifying_a_designated_tam_is_not_deleted(client, engineer, bravo, tam):
    SupportSubscriptionFactory(customer=bravo.customer, plan="enterprise", tam=tam)
    certification = StaffCertification.objects.get(user=tam)
    client.force_login(engineer)
    url = reverse("admin:support_staffcertification_delete", args=[certification.pk])

    response = client.post(url, {"post": "yes"})

    assert response.status_code == 302
    [message] = shown_messages(response)
    assert "Bravo Customer on Enterprise" in message and "name another TAM first" in message
    assert StaffCertification.objects.filter(pk=certification.pk).exists()


def test_the_bulk_delete_refuses_a_designated_tams_only_certification(client, engineer, bravo, tam):
    SupportSubscriptionFactory(customer=bravo.customer, plan="enterprise", tam=tam)
    certification = StaffCertification.objects.get(user=tam)
    client.force_login(engineer)

    response = delete_selected(client, "admin:support_staffcertification_changelist", [certification.pk])

    assert response.status_code == 302
    assert any("name another TAM first" in m for m in shown_messages(response))
    assert StaffCertification.objects.filter(pk=certification.pk).exists()


def test_a_designated_tams_certification_goes_when_another_still_qualifies_them(client, engineer, bravo, tam):
    SupportSubscriptionFactory(customer=bravo.customer, plan="enterprise", tam=tam)
    certification = StaffCertification.objects.get(user=tam)
    StaffCertificationFactory(user=tam, level="professional", name="Solutions Architect - Professional")
    client.force_login(engineer)

    delete_selected(client, "admin:support_staffcertification_changelist", [certification.pk])

    assert not StaffCertification.objects.filter(pk=certification.pk).exists()


def test_a_designated_tams_certification_is_not_given_to_somebody_else(client, engineer, bravo, tam):
    SupportSubscriptionFactory(customer=bravo.customer, plan="enterprise", tam=tam)
    certification = StaffCertification.objects.get(user=tam)
    client.force_login(engineer)
    url = reverse("admin:support_staffcertification_change", args=[certification.pk])

    response = client.post(
        url,
        {
            "user": engineer.pk,
            "track": certification.track,
            "level": certification.level,
            "name": certification.name,
            "credential_id": "",
            "earned_on": certification.earned_on,
            "expires_on": certification.expires_on,
        },
    )

    assert response.status_code == 200
    assert "name another TAM first" in " ".join(response.context["adminform"].form.non_field_errors())
    assert StaffCertification.objects.get(pk=certification.pk).user == tam
