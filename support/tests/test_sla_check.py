"""support_sla: cases past their first-response deadline without a response are marked breached, once,
and whoever answers them is told once, by email and webhook."""

import contextlib
import datetime
import zoneinfo

import pytest
import time_machine
from django.core import mail
from django.utils import timezone
from rest_framework.test import APIClient

from apn_portal.checks.models import CheckRunStatus
from apn_portal.checks.services import check_run
from apn_portal.outbox.models import OutboxMessage, OutboxStatus
from apn_portal.outbox.services import outbox_flush
from apn_portal.webhooks.choices import WebhookEvent
from apn_portal.webhooks.models import WebhookDelivery
from apn_portal.webhooks.services import webhook_endpoint_create
from engagements.services import access_grant_revoke
from support import services
from support.choices import CaseStatus, CaseType
from support.models import SupportCase
from tests.factories import PdmFactory, SupportEngineerFactory, SupportSubscriptionFactory

pytestmark = pytest.mark.django_db

LONDON = zoneinfo.ZoneInfo("Europe/London")
OPENED = datetime.datetime(2026, 11, 24, 10, 0, tzinfo=datetime.UTC)  # a Tuesday
HOUR = datetime.timedelta(hours=1)


def at(moment):
    return time_machine.travel(moment, tick=False)


def run_at(moment):
    with at(moment):
        run = check_run("support_sla")
    assert run.status == CheckRunStatus.SUCCEEDED, run.error
    return run


def open_case(user, account, severity="production_down", when=OPENED, **kwargs):
    with at(when):
        return services.support_case_open(
            user=user,
            account=account,
            subject="Site down",
            description="503 everywhere.",
            severity=severity,
            **kwargs,
        )


def breach_emails():
    """The breach emails queued: a reply or a resolution by support also tells the customer."""
    return OutboxMessage.objects.filter(dedupe_key__startswith="support-case-breached:")


@pytest.fixture
def business_case(alpha, engineer):
    SupportSubscriptionFactory(customer=alpha.customer, plan="business")
    return open_case(alpha.staff, alpha.account)  # production system down: due in one hour


def test_run_twice_on_a_frozen_clock_one_breach_and_one_email(business_case, engineer):
    early = run_at(OPENED + datetime.timedelta(minutes=59))
    assert not any(early.changed.values())

    late = OPENED + datetime.timedelta(minutes=61)
    first = run_at(late)
    second = run_at(late)

    business_case.refresh_from_db()
    assert business_case.breached_at == OPENED + HOUR  # when the deadline passed
    assert business_case.updated_at == late
    assert first.changed == {"cases_breached": 1, "emails": 1, "webhook_events": 0}
    assert not any(second.changed.values())
    email = OutboxMessage.objects.get()
    assert email.dedupe_key == f"support-case-breached:{business_case.pk}"
    assert email.to == ["eli@provider.example"]  # no TAM: the Cloud Support Engineers
    assert "Alpha Customer" in email.subject
    assert "Tue 24 Nov 2026, 11:00 (Europe/London)" in email.body_text
    assert f"/my/support/cases/{business_case.pk}/" in email.body_html


@pytest.mark.parametrize("active_zone", [None, "Asia/Tokyo"])
def test_the_breach_email_shows_the_deadline_on_the_customers_clock(bravo, engineer, active_zone):
    # New York, Tue 24 Nov: opened at 10:00 local (15:00 UTC), due at 11:00 local (16:00 UTC). Whatever
    # zone is active where the email is queued (none in a worker, a user's in a request), it says 11:00.
    SupportSubscriptionFactory(customer=bravo.customer, plan="business")
    opened = datetime.datetime(2026, 11, 24, 15, 0, tzinfo=datetime.UTC)
    case = open_case(bravo.staff, bravo.account, when=opened)
    assert case.first_response_due_at == opened + HOUR

    with timezone.override(active_zone) if active_zone else contextlib.nullcontext():
        run_at(opened + datetime.timedelta(minutes=61))

    email = OutboxMessage.objects.get(dedupe_key=f"support-case-breached:{case.pk}")
    assert "Due:      Tue 24 Nov 2026, 11:00 (America/New_York)" in email.body_text
    assert "Its deadline, Tue 24 Nov 2026, 11:00 (America/New_York), has passed." in email.body_html


def test_answered_resolved_and_target_less_cases_are_not_breached(alpha, engineer, business_case):
    answered = open_case(alpha.staff, alpha.account)
    resolved = open_case(alpha.staff, alpha.account)
    billing = open_case(
        alpha.staff, alpha.account, "general_guidance", case_type=CaseType.ACCOUNT_AND_BILLING
    )
    with at(OPENED + datetime.timedelta(minutes=30)):
        services.support_case_reply(user=engineer, case=answered, body="On it.")
        services.support_case_status_change(user=alpha.staff, case=resolved, status=CaseStatus.RESOLVED)

    run = run_at(OPENED + 2 * HOUR)

    assert run.changed["cases_breached"] == 1
    assert set(SupportCase.objects.filter(breached_at__isnull=False)) == {business_case}
    for case in (answered, resolved, billing):
        case.refresh_from_db()
        assert case.breached_at is None


def test_a_late_answer_keeps_the_breach_and_records_the_response(business_case, engineer):
    run_at(OPENED + 2 * HOUR)
    with at(OPENED + 3 * HOUR):
        services.support_case_reply(user=engineer, case=business_case, body="Sorry for the wait.")

    business_case.refresh_from_db()
    assert business_case.breached_at == OPENED + HOUR
    assert business_case.first_responded_at == OPENED + 3 * HOUR


def test_developer_cases_do_not_breach_over_the_weekend(alpha, engineer):
    SupportSubscriptionFactory(customer=alpha.customer, plan="developer")
    friday_evening = datetime.datetime(2026, 11, 27, 17, 50, tzinfo=LONDON)
    case = open_case(alpha.staff, alpha.account, "system_impaired", when=friday_evening)

    run_at(datetime.datetime(2026, 11, 30, 7, 0, tzinfo=LONDON))  # Monday before opening: 10 min used
    run_at(datetime.datetime(2026, 12, 1, 9, 49, tzinfo=LONDON))
    case.refresh_from_db()
    assert case.breached_at is None

    run_at(datetime.datetime(2026, 12, 1, 9, 51, tzinfo=LONDON))
    case.refresh_from_db()
    assert case.breached_at is not None


def test_the_designated_tam_is_told_about_an_enterprise_case(alpha, tam, engineer):
    SupportSubscriptionFactory(customer=alpha.customer, plan="enterprise", tam=tam)
    case = open_case(alpha.staff, alpha.account, "business_critical_down")

    run_at(OPENED + datetime.timedelta(minutes=16))

    assert OutboxMessage.objects.get(dedupe_key=f"support-case-breached:{case.pk}").to == [
        "tara@provider.example"
    ]


def test_the_reselling_partner_is_told_while_it_handles_the_case_and_its_webhook_fires(
    alpha, reseller, engineer
):
    SupportSubscriptionFactory(
        customer=alpha.customer, account=reseller.account, plan="business", support_partner=reseller.partner
    )
    webhook_endpoint_create(
        user=reseller.user, url="http://localhost:9/hooks", events=[WebhookEvent.SUPPORT_CASE_BREACHED]
    )
    with_partner = open_case(alpha.staff, reseller.account)
    escalated = open_case(alpha.staff, reseller.account)
    with at(OPENED + datetime.timedelta(minutes=10)):
        services.support_case_escalate(user=reseller.user, case=escalated)

    run_at(OPENED + 2 * HOUR)
    run_at(OPENED + 3 * HOUR)

    emails = {message.dedupe_key: message.to for message in OutboxMessage.objects.all()}
    assert emails == {
        f"support-case-breached:{with_partner.pk}": ["desk@resell.example"],
        f"support-case-breached:{escalated.pk}": ["eli@provider.example"],
        # Told when it was passed on, too, before it breached.
        f"support-case-escalated:{escalated.pk}": ["eli@provider.example"],
    }
    deliveries = WebhookDelivery.objects.filter(event=WebhookEvent.SUPPORT_CASE_BREACHED)
    assert deliveries.count() == 2  # both cases are the reseller's; each event once, however many runs
    assert {d.payload["data"]["id"] for d in deliveries} == {with_partner.pk, escalated.pk}
    assert all(d.payload["data"]["breached_at"] for d in deliveries)


def test_a_partner_that_no_longer_resells_the_account_is_not_told_of_its_cases_breach(
    alpha, reseller, engineer
):
    SupportSubscriptionFactory(
        customer=alpha.customer, account=reseller.account, plan="business", support_partner=reseller.partner
    )
    webhook_endpoint_create(
        user=reseller.user, url="http://localhost:9/hooks", events=[WebhookEvent.SUPPORT_CASE_BREACHED]
    )
    case = open_case(alpha.staff, reseller.account)
    # The resale ends outside support (engagements): the case still names the partner.
    reseller.account.reseller, reseller.account.paid_by = None, "customer"
    reseller.account.save()

    run_at(OPENED + 2 * HOUR)

    assert {m.dedupe_key: m.to for m in OutboxMessage.objects.all()} == {
        f"support-case-breached:{case.pk}": ["eli@provider.example"]
    }
    assert not WebhookDelivery.objects.filter(event=WebhookEvent.SUPPORT_CASE_BREACHED).exists()


def test_the_partner_that_opened_the_case_for_its_customer_hears_of_the_breach_once(alpha, engineer):
    SupportSubscriptionFactory(customer=alpha.customer, plan="business")
    webhook_endpoint_create(
        user=alpha.partner_user, url="http://localhost:9/hooks", events=[WebhookEvent.SUPPORT_CASE_BREACHED]
    )
    case = open_case(alpha.partner_user, alpha.granted_account)

    run_at(OPENED + 2 * HOUR)
    run_at(OPENED + 3 * HOUR)

    delivery = WebhookDelivery.objects.get(event=WebhookEvent.SUPPORT_CASE_BREACHED)
    assert delivery.endpoint.partner == alpha.partner
    assert delivery.payload["data"]["id"] == case.pk


def test_a_partner_the_customer_no_longer_lets_in_is_not_told_of_the_breach(alpha, engineer):
    """The case is the customer's: once the partner's access to the account was revoked, the partner
    no longer sees the case, through the API or a webhook."""
    SupportSubscriptionFactory(customer=alpha.customer, plan="business")
    webhook_endpoint_create(
        user=alpha.partner_user, url="http://localhost:9/hooks", events=[WebhookEvent.SUPPORT_CASE_BREACHED]
    )
    case = open_case(alpha.partner_user, alpha.granted_account)
    grant = alpha.granted_account.access_grants.get()
    with time_machine.travel(OPENED + HOUR / 2, tick=False):
        access_grant_revoke(user=alpha.admin, grant=grant, reason="Contract lost")

    run_at(OPENED + 2 * HOUR)

    case.refresh_from_db()
    assert case.breached_at is not None
    assert not WebhookDelivery.objects.filter(event=WebhookEvent.SUPPORT_CASE_BREACHED).exists()


def test_provider_staff_endpoints_hear_of_every_breach(business_case, engineer):
    webhook_endpoint_create(
        user=engineer, url="http://localhost:9/support", events=[WebhookEvent.SUPPORT_CASE_BREACHED]
    )

    run = run_at(OPENED + 2 * HOUR)

    assert run.changed["webhook_events"] == 1
    delivery = WebhookDelivery.objects.get()
    assert delivery.payload["event"] == "support_case.breached"
    assert delivery.payload["data"]["customer"] == "alpha-customer"


def test_a_late_first_response_is_a_breach_whether_or_not_the_check_ran_first(alpha, business_case, engineer):
    """Due 11:00: one case answered at 11:02, before the five-minute check noticed; another at 11:06,
    after it did. Both are equally late, and everybody hears of each once."""
    webhook_endpoint_create(
        user=engineer, url="http://localhost:9/support", events=[WebhookEvent.SUPPORT_CASE_BREACHED]
    )
    noticed = open_case(alpha.staff, alpha.account)
    with at(OPENED + datetime.timedelta(minutes=62)):
        services.support_case_reply(user=engineer, case=business_case, body="Looking.")
    run_at(OPENED + datetime.timedelta(minutes=65))
    with at(OPENED + datetime.timedelta(minutes=66)):
        services.support_case_reply(user=engineer, case=noticed, body="Looking.")
    later = run_at(OPENED + datetime.timedelta(minutes=70))

    for case in (business_case, noticed):
        case.refresh_from_db()
        assert case.breached_at == OPENED + HOUR
    assert not any(later.changed.values())
    emails = breach_emails().order_by("dedupe_key")
    assert [(m.dedupe_key, m.to) for m in emails] == sorted(
        (f"support-case-breached:{case.pk}", ["eli@provider.example"]) for case in (business_case, noticed)
    )
    deliveries = WebhookDelivery.objects.filter(event=WebhookEvent.SUPPORT_CASE_BREACHED)
    assert sorted(d.payload["data"]["id"] for d in deliveries) == sorted([business_case.pk, noticed.pk])
    # The customer's integrators see both as breached too.
    client = APIClient()
    client.force_authenticate(alpha.staff)
    listed = client.get("/api/v1/support-cases/", {"breached": "true"}).json()["results"]
    assert sorted(case["id"] for case in listed) == sorted([business_case.pk, noticed.pk])


def test_the_breach_email_says_what_became_of_the_case(alpha, business_case, engineer):
    """Marked by the check while unanswered: answer it now. Marked as it is answered late, or closed
    unanswered: what happened, and no call to answer what needs no answer."""
    webhook_endpoint_create(
        user=engineer, url="http://localhost:9/support", events=[WebhookEvent.SUPPORT_CASE_BREACHED]
    )
    closed = open_case(alpha.staff, alpha.account)
    waiting = open_case(alpha.staff, alpha.account)
    with at(OPENED + datetime.timedelta(minutes=62)):
        services.support_case_reply(user=engineer, case=business_case, body="Looking.")
        services.support_case_status_change(user=alpha.staff, case=closed, status=CaseStatus.CLOSED)
    run_at(OPENED + datetime.timedelta(minutes=65))

    def told(case):
        email = OutboxMessage.objects.get(dedupe_key=f"support-case-breached:{case.pk}")
        return " ".join(email.body_text.split()), " ".join(email.body_html.split())

    text, html = told(business_case)
    assert "was first answered after its deadline had passed" in text
    zone = zoneinfo.ZoneInfo(alpha.customer.time_zone)
    assert (
        f"Answered: {(OPENED + datetime.timedelta(minutes=62)).astimezone(zone):%a %-d %b %Y, %H:%M}" in text
    )
    assert "Answer it now" not in text + html and "Open the case" in text and "answered late" in html
    text, html = told(closed)
    assert "was closed with no first response" in text and "Answer it now" not in text + html
    # The event shows the case as it is stored once closed: never closed without its resolution time.
    (event,) = [d for d in WebhookDelivery.objects.all() if d.payload["data"]["id"] == closed.pk]
    closed.refresh_from_db()
    assert event.payload["data"]["status"] == "closed"
    assert datetime.datetime.fromisoformat(event.payload["data"]["resolved_at"]) == closed.resolved_at
    text, html = told(waiting)
    assert "has had no first response, and its deadline has passed" in text and "Answer it now" in html


def test_an_answer_in_time_is_no_breach_and_tells_nobody(business_case, engineer):
    with at(OPENED + datetime.timedelta(minutes=59)):
        services.support_case_reply(user=engineer, case=business_case, body="On it.")
    run_at(OPENED + 2 * HOUR)

    business_case.refresh_from_db()
    assert business_case.breached_at is None
    assert not breach_emails().exists()  # the customer is told of the answer; nobody of a breach


def test_the_breach_of_a_late_answer_is_told_only_once_the_reply_commits(
    business_case, engineer, django_capture_on_commit_callbacks
):
    with (
        at(OPENED + datetime.timedelta(minutes=62)),
        django_capture_on_commit_callbacks() as callbacks,
    ):
        services.support_case_reply(user=engineer, case=business_case, body="Looking.")

    assert breach_emails().get().dedupe_key == f"support-case-breached:{business_case.pk}"
    assert callbacks  # the email's delivery is queued after commit, not before


@pytest.mark.parametrize("status", [CaseStatus.RESOLVED, CaseStatus.CLOSED])
def test_a_missed_deadline_is_a_breach_even_if_the_case_is_done_before_the_check_runs(
    alpha, business_case, engineer, status
):
    """Due 11:00, still unanswered, resolved by support (or closed by the customer) at 11:02: the check at
    11:05 no longer looks at it, so the breach is recorded, and told, when the case is done."""
    who = engineer if status == CaseStatus.RESOLVED else alpha.staff
    with at(OPENED + datetime.timedelta(minutes=62)):
        services.support_case_status_change(user=who, case=business_case, status=status)
    later = run_at(OPENED + datetime.timedelta(minutes=65))

    business_case.refresh_from_db()
    assert (business_case.status, business_case.first_responded_at) == (status, None)
    assert business_case.breached_at == OPENED + HOUR
    assert not any(later.changed.values())
    assert breach_emails().get().dedupe_key == f"support-case-breached:{business_case.pk}"


def test_an_answer_exactly_at_the_deadline_is_in_time_even_if_the_check_ran_at_that_instant(
    business_case, engineer
):
    """An answer due by 11:00 is in time at 11:00: the check, run at that instant, agrees with
    the reply that follows at the same instant, so nobody is told of a breach that was none."""
    deadline = business_case.first_response_due_at
    at_deadline = run_at(deadline)
    with at(deadline):
        services.support_case_reply(user=engineer, case=business_case, body="Looking now.")
    run_at(deadline + HOUR)

    business_case.refresh_from_db()
    assert not any(at_deadline.changed.values())
    assert business_case.first_responded_at == deadline
    assert business_case.breached_at is None
    assert not breach_emails().exists()


def test_a_case_done_in_time_is_no_breach(alpha, business_case, engineer):
    with at(OPENED + datetime.timedelta(minutes=59)):
        services.support_case_status_change(user=alpha.staff, case=business_case, status=CaseStatus.CLOSED)
    run_at(OPENED + 2 * HOUR)

    business_case.refresh_from_db()
    assert business_case.breached_at is None
    assert not OutboxMessage.objects.exists()


# Nobody to tell: the support desk ------------------------------------------------------------------------


@pytest.mark.parametrize("engineers", ["none yet", "none with an email"])
def test_with_no_engineer_to_write_to_the_breach_goes_to_the_support_desk(alpha, settings, engineers):
    settings.SUPPORT_TEAM_EMAIL = "desk@provider.example"
    if engineers == "none with an email":
        SupportEngineerFactory(username="engineer-noemail", email="")
    SupportSubscriptionFactory(customer=alpha.customer, plan="business")
    case = open_case(alpha.staff, alpha.account)

    run = run_at(OPENED + 2 * HOUR)

    assert run.changed["emails"] == 1
    email = OutboxMessage.objects.get()
    assert email.dedupe_key == f"support-case-breached:{case.pk}"
    assert email.to == ["desk@provider.example"]


def test_an_engineer_with_an_email_is_told_and_the_support_desk_is_not(business_case, settings):
    settings.SUPPORT_TEAM_EMAIL = "desk@provider.example"

    run_at(OPENED + 2 * HOUR)

    assert OutboxMessage.objects.get().to == ["eli@provider.example"]


def test_a_reselling_partner_with_nobody_to_write_to_leaves_its_breach_to_the_support_desk(
    alpha, reseller, engineer, settings
):
    settings.SUPPORT_TEAM_EMAIL = "desk@provider.example"
    reseller.user.email = ""
    reseller.user.save()
    # Nor its PDM, who can neither open nor answer the case.
    reseller.partner.pdm = PdmFactory(email="pdm@provider.example")
    reseller.partner.save()
    SupportSubscriptionFactory(
        customer=alpha.customer, account=reseller.account, plan="business", support_partner=reseller.partner
    )
    open_case(alpha.staff, reseller.account)

    run_at(OPENED + 2 * HOUR)

    assert OutboxMessage.objects.get().to == ["desk@provider.example"]


def test_without_a_support_desk_address_either_the_breach_stands_and_a_warning_is_logged(
    alpha, settings, caplog
):
    settings.SUPPORT_TEAM_EMAIL = ""
    SupportSubscriptionFactory(customer=alpha.customer, plan="business")
    case = open_case(alpha.staff, alpha.account)

    with caplog.at_level("WARNING", logger="apn_portal.outbox.services"):
        run = run_at(OPENED + 2 * HOUR)

    case.refresh_from_db()
    assert case.breached_at == OPENED + HOUR
    assert run.changed["emails"] == 0
    assert not OutboxMessage.objects.exists()  # no row that could never be sent
    assert f"support-case-breached:{case.pk}" in caplog.text
    assert "no recipient" in caplog.text


def test_a_breach_whose_reselling_partners_staff_all_left_before_it_went_out_reaches_the_support_desk(
    alpha, reseller, engineer, settings
):
    settings.SUPPORT_TEAM_EMAIL = "desk@provider.example"
    SupportSubscriptionFactory(
        customer=alpha.customer, account=reseller.account, plan="business", support_partner=reseller.partner
    )
    case = open_case(alpha.staff, reseller.account)
    run_at(OPENED + 2 * HOUR)  # queued for the reseller's staff; the mail server is down for the weekend
    message = OutboxMessage.objects.get(dedupe_key=f"support-case-breached:{case.pk}")
    assert message.to == ["desk@resell.example"]
    reseller.user.is_active = False  # the reseller's only support person leaves before it goes out
    reseller.user.save()

    assert outbox_flush() == 1

    assert [sent.to for sent in mail.outbox] == [["desk@provider.example"]], "the breach was told to nobody"
    message.refresh_from_db()
    assert message.status == OutboxStatus.SENT
    assert "desk@resell.example" in message.last_error
    assert "desk@provider.example instead" in message.last_error


def test_a_breach_whose_tam_left_the_provider_before_it_went_out_reaches_the_support_desk(
    alpha, tam, engineer, settings
):
    settings.SUPPORT_TEAM_EMAIL = "desk@provider.example"
    SupportSubscriptionFactory(customer=alpha.customer, plan="enterprise", tam=tam)
    case = open_case(alpha.staff, alpha.account, "business_critical_down")
    # Only the breach email is in question here, not the TAM's notice of the case as it was opened.
    OutboxMessage.objects.filter(dedupe_key=f"support-case-opened:{case.pk}:tam").delete()
    run_at(OPENED + 2 * HOUR)
    assert OutboxMessage.objects.get().to == ["tara@provider.example"]
    tam.is_staff = False
    tam.save()

    assert outbox_flush() == 1

    assert [sent.to for sent in mail.outbox] == [["desk@provider.example"]]
