"""tam_qualification: the designated TAM of an Enterprise plan whose last qualifying certification runs out
is named to them and to the customer's Account Manager 30 and 7 days before, and once more when it has
run out; each once, whatever reruns; the plan itself is left to the Account Manager."""

import datetime

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apn_portal.checks.models import CheckRunStatus
from apn_portal.checks.registry import get_check
from apn_portal.checks.services import check_run
from apn_portal.outbox.models import OutboxMessage
from apn_portal.outbox.services import outbox_flush
from support.models import StaffCertification
from tests.factories import (
    AccountManagerFactory,
    AwsAccountFactory,
    CustomerFactory,
    QualifiedTamFactory,
    StaffCertificationFactory,
    SuperUserFactory,
    SupportSubscriptionFactory,
)

pytestmark = pytest.mark.django_db

LAST_DAY = datetime.date(2026, 12, 24)  # the TAM's certification counts until then, inclusive
DAY = datetime.timedelta(days=1)


def run_on(day: datetime.date):
    with time_machine.travel(datetime.datetime.combine(day, datetime.time(0, 20), datetime.UTC), tick=False):
        run = check_run("tam_qualification")
    assert run.status == CheckRunStatus.SUCCEEDED, run.error
    return run


def certified_until(user, last_day: datetime.date, earned_on: datetime.date | None = None):
    StaffCertification.objects.filter(user=user).delete()
    return StaffCertificationFactory(
        user=user, earned_on=earned_on or last_day - 700 * DAY, expires_on=last_day
    )


@pytest.fixture
def designated(alpha, tam):
    tam.first_name, tam.last_name = "Tara", "Tam"
    tam.save()
    certified_until(tam, LAST_DAY)
    return SupportSubscriptionFactory(
        customer=alpha.customer,
        plan="enterprise",
        tam=tam,
        started_at=datetime.datetime(2026, 1, 5, tzinfo=datetime.UTC),
    )


def test_it_is_registered_as_a_daily_support_check():
    check = get_check("tam_qualification")
    assert check.label == "TAM qualification"
    assert check.idempotent
    assert check.order > get_check("support_plan_retirement").order


def test_thirty_days_before_the_tam_and_the_account_manager_are_warned_once(designated):
    assert not any(run_on(LAST_DAY - 31 * DAY).changed.values())

    first = run_on(LAST_DAY - 30 * DAY)
    second = run_on(LAST_DAY - 30 * DAY)
    later = run_on(LAST_DAY - 20 * DAY)

    assert first.changed == {"warning_emails": 1}
    assert not any(second.changed.values()) and not any(later.changed.values())
    email = OutboxMessage.objects.get()
    assert email.to == ["alpha-am@provider.example", "tara@provider.example"]
    assert email.subject == "Tara Tam qualifies as Alpha Customer's TAM until 24 Dec 2026"
    assert "counts until 24 Dec 2026 (in 30 days)" in email.body_text
    assert "no longer qualifies as TAM of Alpha Customer's Enterprise plan" in email.body_text
    assert "Renew the certification, or name another TAM for this plan." in email.body_text
    assert "/admin/support/supportsubscription/add/" in email.body_html
    # Sent to the TAM too, who cannot change plans: the link says whose it is, as the text does.
    assert "For the Account Manager: change the customer's support plan</a>" in email.body_html


def test_seven_days_before_they_are_warned_again(designated):
    run_on(LAST_DAY - 30 * DAY)
    assert run_on(LAST_DAY - 8 * DAY).changed == {}

    assert run_on(LAST_DAY - 7 * DAY).changed == {"warning_emails": 1}
    assert not any(run_on(LAST_DAY - 7 * DAY).changed.values())
    assert not any(run_on(LAST_DAY).changed.values())

    seven = OutboxMessage.objects.order_by("id").last()
    assert seven.dedupe_key.endswith(":7")
    assert "counts until 24 Dec 2026 (in 7 days)" in seven.body_text
    assert OutboxMessage.objects.count() == 2


def test_once_it_has_run_out_they_are_told_once_and_the_plan_still_names_the_tam(designated, tam):
    run_on(LAST_DAY - 7 * DAY)

    lapsed = run_on(LAST_DAY + DAY)
    assert lapsed.changed == {"lapsed_emails": 1}
    assert not any(run_on(LAST_DAY + DAY).changed.values())
    assert not any(run_on(LAST_DAY + 40 * DAY).changed.values())

    email = OutboxMessage.objects.order_by("id").last()
    assert email.to == ["alpha-am@provider.example", "tara@provider.example"]
    assert email.subject == "Tara Tam no longer qualifies as Alpha Customer's TAM: name another TAM"
    assert (
        "Tara Tam no longer qualifies as TAM of Alpha Customer's Enterprise plan since 25 Dec 2026: "
        "name another TAM." in email.body_text
    )
    assert "For the Account Manager: change the customer's support plan</a>" in email.body_html
    designated.refresh_from_db()
    assert designated.tam == tam and designated.ended_at is None


def test_a_check_first_run_after_the_expiry_sends_only_the_lapsed_notice(designated):
    assert run_on(LAST_DAY + 3 * DAY).changed == {"lapsed_emails": 1}
    assert OutboxMessage.objects.count() == 1


def test_a_renewed_certification_stops_the_warnings_and_its_own_expiry_warns_again(designated, tam):
    run_on(LAST_DAY - 30 * DAY)
    renewed_until = LAST_DAY + 3 * 365 * DAY
    StaffCertificationFactory(user=tam, earned_on=LAST_DAY - 10 * DAY, expires_on=renewed_until)

    assert not any(run_on(LAST_DAY - 7 * DAY).changed.values())
    assert not any(run_on(LAST_DAY + DAY).changed.values())
    assert OutboxMessage.objects.count() == 1

    assert run_on(renewed_until - 30 * DAY).changed == {"warning_emails": 1}
    assert OutboxMessage.objects.count() == 2


def test_one_email_names_every_plan_of_the_customer_that_designates_the_tam(designated, alpha, tam):
    SupportSubscriptionFactory(customer=alpha.customer, account=alpha.account, plan="enterprise", tam=tam)

    assert run_on(LAST_DAY - 30 * DAY).changed == {"warning_emails": 1}

    body = OutboxMessage.objects.get().body_text
    assert (
        "TAM of Alpha Customer's Enterprise plan and the Enterprise plan of Alpha Customer's account "
        "111000000000." in body
    )
    assert "name another TAM for these plans." in body


def test_a_tam_whose_subscription_ended_is_not_warned(designated):
    designated.ended_at = datetime.datetime(2026, 6, 1, tzinfo=datetime.UTC)
    designated.save()

    assert not any(run_on(LAST_DAY - 30 * DAY).changed.values())
    assert not any(run_on(LAST_DAY + DAY).changed.values())
    assert not OutboxMessage.objects.exists()


def test_a_subscription_yet_to_start_is_warned_of(alpha, tam):
    certified_until(tam, LAST_DAY)
    SupportSubscriptionFactory(
        customer=alpha.customer,
        plan="enterprise",
        tam=tam,
        started_at=datetime.datetime(2027, 1, 1, tzinfo=datetime.UTC),
    )

    assert run_on(LAST_DAY - 30 * DAY).changed == {"warning_emails": 1}


def test_an_inactive_account_manager_is_not_written_to(designated, alpha):
    alpha.account_manager.is_active = False
    alpha.account_manager.save()

    run_on(LAST_DAY - 30 * DAY)

    assert OutboxMessage.objects.get().to == ["tara@provider.example"]


def _designated_tams(count: int, start: int):
    for n in range(start, start + count):
        tam = QualifiedTamFactory(username=f"tam-{n}")
        certified_until(tam, LAST_DAY)
        customer = CustomerFactory(account_manager=AccountManagerFactory(username=f"am-{n}"))
        SupportSubscriptionFactory(customer=customer, plan="enterprise", tam=tam)
        SupportSubscriptionFactory(
            customer=customer,
            account=AwsAccountFactory(customer=customer, account_id=f"{n:012d}"),
            plan="enterprise",
            tam=tam,
        )


def test_the_queries_do_not_grow_with_the_tams_and_their_subscriptions(db):
    _designated_tams(1, start=1)
    with CaptureQueriesContext(connection) as one:
        assert run_on(LAST_DAY - 30 * DAY).changed == {"warning_emails": 1}
    OutboxMessage.objects.all().delete()

    _designated_tams(4, start=2)
    with CaptureQueriesContext(connection) as five:
        assert run_on(LAST_DAY - 30 * DAY).changed == {"warning_emails": 5}

    assert len(five.captured_queries) == len(one.captured_queries)


def test_with_neither_the_tam_nor_the_account_manager_to_write_to_the_support_desk_is_told(
    designated, alpha, tam, settings
):
    settings.SUPPORT_TEAM_EMAIL = "desk@provider.example"
    tam.email = ""
    tam.save()
    alpha.account_manager.is_active = False
    alpha.account_manager.save()

    run = run_on(LAST_DAY - 30 * DAY)

    assert run.changed == {"warning_emails": 1}
    assert OutboxMessage.objects.get().to == ["desk@provider.example"]


def test_when_the_tam_and_the_account_manager_have_both_left_before_it_goes_out_the_support_desk_is_told(
    designated, alpha, tam, settings
):
    settings.SUPPORT_TEAM_EMAIL = "desk@provider.example"
    run_on(LAST_DAY - 30 * DAY)  # queued; the mail server is down for the weekend
    tam.is_active = False
    tam.save()
    alpha.account_manager.is_staff = False
    alpha.account_manager.save()

    assert outbox_flush() == 1

    assert [sent.to for sent in mail.outbox] == [["desk@provider.example"]]


def test_a_warning_deleted_in_the_outbox_admin_is_not_sent_again_by_a_rerun(designated):
    # The outbox is the record of what was sent: deleting a row would free its dedupe key, and the
    # next run (a check must be safe to run twice) would send the same warning again.
    run_on(LAST_DAY - 30 * DAY)
    sent = OutboxMessage.objects.get()
    admin = Client()
    admin.force_login(SuperUserFactory())

    page = admin.post(reverse("admin:outbox_outboxmessage_delete", args=[sent.pk]), {"post": "yes"})
    admin.post(
        reverse("admin:outbox_outboxmessage_changelist"),
        {"action": "delete_selected", "_selected_action": [sent.pk], "post": "yes"},
    )

    assert page.status_code == 403
    assert OutboxMessage.objects.filter(pk=sent.pk).exists()
    assert not any(run_on(LAST_DAY - 20 * DAY).changed.values())
    assert OutboxMessage.objects.count() == 1
