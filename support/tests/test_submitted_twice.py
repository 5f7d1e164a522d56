"""The new-case and reply forms sent twice (a double click, a browser's resend, Back and submit again) open
one case and add one reply: one deadline, one breach, one email. Each render of a form is one submit;
two renders are two."""

import datetime
import re

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apn_portal.checks.models import CheckRunStatus
from apn_portal.checks.services import check_run
from apn_portal.outbox.models import OutboxMessage
from support import services
from support.models import CaseReply, SupportCase
from tests.factories import SupportSubscriptionFactory
from tests.locks import sent_twice_at_once

NEW_CASE = reverse("support:case-new")


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _token(response) -> str:
    """The submission token of the form the page shows."""
    found = re.search(r'name="submission_token" value="([^"]+)"', response.content.decode())
    assert found, "the form has no submission token"
    return found[1]


def _case_data(account, token, **changes) -> dict:
    data = {
        "account": account.pk,
        "case_type": "technical",
        "severity": "production_down",  # on Business: a first response within the hour
        "subject": "Checkout is down",
        "description": "Every request to the checkout answers 503 since 09:40.",
        "submission_token": token,
    }
    return {**data, **changes}


def _reply_data(token, body="Any news? It is still down.") -> dict:
    return {"body": body, "submission_token": token}


def _page_messages(client, response) -> str:
    """What the page the form redirected to says."""
    assert response.status_code == 303, response.status_code
    return client.get(response["Location"]).content.decode()


def _breach_emails() -> list[str]:
    return list(
        OutboxMessage.objects.filter(dedupe_key__startswith="support-case-breached:").values_list(
            "dedupe_key", flat=True
        )
    )


def _run_sla_check_a_day_later():
    with time_machine.travel(timezone.now() + datetime.timedelta(days=1), tick=False):
        run = check_run("support_sla")
    assert run.status == CheckRunStatus.SUCCEEDED, run.error


@pytest.fixture
def business(alpha):
    return SupportSubscriptionFactory(customer=alpha.customer, plan="business")


# Opening a case -------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_customers_new_case_form_sent_twice_opens_one_case_with_one_breach_email(
    alpha, business, engineer
):
    client = _client(alpha.staff)
    data = _case_data(alpha.account, _token(client.get(NEW_CASE)))

    first = client.post(NEW_CASE, data)
    second = client.post(NEW_CASE, data)

    case = SupportCase.objects.get()
    assert first.status_code == second.status_code == 303
    assert first["Location"] == second["Location"] == reverse("support:case-detail", args=[case.pk])
    assert f"This case was already sent: it is case #{case.pk}." in _page_messages(client, second)
    _run_sla_check_a_day_later()
    assert _breach_emails() == [f"support-case-breached:{case.pk}"]


@pytest.mark.django_db
def test_the_partners_new_case_form_sent_twice_opens_one_case(alpha, business):
    client = _client(alpha.partner_user)
    data = _case_data(alpha.granted_account, _token(client.get(NEW_CASE)))

    first = client.post(NEW_CASE, data)
    second = client.post(NEW_CASE, data)

    case = SupportCase.objects.get()
    assert case.opened_by_partner == alpha.partner
    assert first["Location"] == second["Location"] == reverse("support:case-detail", args=[case.pk])
    assert f"This case was already sent: it is case #{case.pk}." in _page_messages(client, second)


@pytest.mark.django_db
def test_the_form_on_the_support_page_carries_a_token_too(alpha, business):
    client = _client(alpha.staff)
    data = _case_data(alpha.account, _token(client.get(reverse("support:home"))))

    client.post(NEW_CASE, data)
    client.post(NEW_CASE, data)

    assert SupportCase.objects.count() == 1


@pytest.mark.django_db
def test_two_renders_of_the_form_filled_in_with_two_problems_open_two_cases(alpha, business):
    client = _client(alpha.staff)
    one, other = _token(client.get(NEW_CASE)), _token(client.get(NEW_CASE))
    assert one != other

    client.post(NEW_CASE, _case_data(alpha.account, one))
    second = client.post(NEW_CASE, _case_data(alpha.account, other, subject="Search is down too"))

    assert SupportCase.objects.count() == 2
    assert "is open." in _page_messages(client, second)


@pytest.mark.django_db
def test_back_to_the_form_fetched_afresh_and_sent_again_opens_one_case(alpha, business):
    # Signed-in pages are never cached: Back fetches the form again, with a new token, and the browser
    # puts back what was typed.
    client = _client(alpha.staff)
    first = client.post(NEW_CASE, _case_data(alpha.account, _token(client.get(NEW_CASE))))

    again = client.post(NEW_CASE, _case_data(alpha.account, _token(client.get(NEW_CASE))))

    case = SupportCase.objects.get()
    assert first["Location"] == again["Location"] == reverse("support:case-detail", args=[case.pk])
    assert f"This case was already sent: it is case #{case.pk}." in _page_messages(client, again)


@pytest.mark.django_db
def test_the_same_problem_told_again_once_its_case_is_closed_or_an_hour_later_opens_a_new_case(
    alpha, business
):
    client = _client(alpha.staff)
    client.post(NEW_CASE, _case_data(alpha.account, _token(client.get(NEW_CASE))))
    services.support_case_status_change(user=alpha.staff, case=SupportCase.objects.get(), status="closed")

    client.post(NEW_CASE, _case_data(alpha.account, _token(client.get(NEW_CASE))))
    assert SupportCase.objects.count() == 2

    with time_machine.travel(timezone.now() + datetime.timedelta(minutes=61)):
        reopened = client.post(NEW_CASE, _case_data(alpha.account, _token(client.get(NEW_CASE))))
        assert "is open." in _page_messages(client, reopened)
    assert SupportCase.objects.count() == 3


@pytest.mark.django_db
def test_the_same_text_from_a_colleague_or_through_the_api_opens_its_own_case(alpha, business):
    client = _client(alpha.staff)
    client.post(NEW_CASE, _case_data(alpha.account, _token(client.get(NEW_CASE))))

    colleague = _client(alpha.admin)
    colleague.post(NEW_CASE, _case_data(alpha.account, _token(colleague.get(NEW_CASE))))
    data = _case_data(alpha.account, None)
    services.support_case_open(
        user=alpha.staff,
        account=alpha.account,
        subject=data["subject"],
        description=data["description"],
        severity=data["severity"],
    )

    assert SupportCase.objects.filter(opened_by=alpha.admin).count() == 1
    assert SupportCase.objects.filter(opened_by=alpha.staff).count() == 2


@pytest.mark.django_db
def test_the_form_sent_again_after_an_edit_opens_a_second_case(alpha, business):
    # Back, change the subject, submit: the same token, but not the same case.
    client = _client(alpha.staff)
    token = _token(client.get(NEW_CASE))

    client.post(NEW_CASE, _case_data(alpha.account, token))
    client.post(NEW_CASE, _case_data(alpha.account, token, subject="Checkout and search are down"))

    assert SupportCase.objects.count() == 2


@pytest.mark.django_db
def test_a_colleague_sending_the_same_token_opens_their_own_case(alpha, business):
    # A page shared or cached between two people: neither is ever shown the other's case.
    token = _token(_client(alpha.staff).get(NEW_CASE))
    _client(alpha.staff).post(NEW_CASE, _case_data(alpha.account, token))

    response = _client(alpha.admin).post(NEW_CASE, _case_data(alpha.account, token))

    theirs = SupportCase.objects.get(opened_by=alpha.admin)
    assert response["Location"] == reverse("support:case-detail", args=[theirs.pk])
    assert SupportCase.objects.count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize("token", ["", "not-a-token", "\x00", "1" * 5000])
def test_a_form_sent_without_a_usable_token_still_opens_its_case(alpha, business, token):
    client = _client(alpha.staff)

    response = client.post(NEW_CASE, _case_data(alpha.account, token))

    assert response.status_code == 303
    assert SupportCase.objects.count() == 1


@pytest.mark.django_db
def test_a_refused_form_sent_without_a_token_comes_back_with_one(alpha, business):
    # An old cached page, refused for its empty subject: once corrected, its submit is protected too.
    client = _client(alpha.staff)
    data = _case_data(alpha.account, "", subject="")
    del data["submission_token"]

    refused = client.post(NEW_CASE, data)

    assert refused.status_code == 400
    corrected = _case_data(alpha.account, _token(refused))
    client.post(NEW_CASE, corrected)
    client.post(NEW_CASE, corrected)
    assert SupportCase.objects.count() == 1


@pytest.mark.django_db
def test_the_api_still_opens_a_case_per_call(alpha, business):
    # The API has its own Idempotency-Key; the service's old entry point is unchanged.
    for _ in range(2):
        services.support_case_open(
            user=alpha.staff,
            account=alpha.account,
            subject="Checkout is down",
            description="503 everywhere.",
            severity="production_down",
        )
    assert SupportCase.objects.count() == 2


# Replying -------------------------------------------------------------------------------------------------


def _open(alpha) -> SupportCase:
    return services.support_case_open(
        user=alpha.staff,
        account=alpha.account,
        subject="Checkout is down",
        description="Every request to the checkout answers 503.",
        severity="production_down",
    )


@pytest.mark.django_db
def test_a_late_first_response_sent_twice_is_one_reply_and_one_breach_email(alpha, business, engineer):
    case = _open(alpha)
    client = _client(engineer)
    detail = reverse("support:case-detail", args=[case.pk])

    with time_machine.travel(timezone.now() + datetime.timedelta(hours=2)):
        data = _reply_data(_token(client.get(detail)), body="We are on it: a load balancer failed.")
        first = client.post(reverse("support:case-reply", args=[case.pk]), data)
        second = client.post(reverse("support:case-reply", args=[case.pk]), data)

    assert CaseReply.objects.filter(case=case).count() == 1
    assert first["Location"] == second["Location"] == detail
    assert "This reply was already sent: it is on the case once." in _page_messages(client, second)
    assert _breach_emails() == [f"support-case-breached:{case.pk}"]


@pytest.mark.django_db
def test_the_customers_reply_sent_twice_is_one_reply_and_two_renders_are_two(alpha, business):
    case = _open(alpha)
    client = _client(alpha.staff)
    detail = reverse("support:case-detail", args=[case.pk])
    reply = reverse("support:case-reply", args=[case.pk])
    data = _reply_data(_token(client.get(detail)))

    client.post(reply, data)
    client.post(reply, data)
    assert CaseReply.objects.filter(case=case).count() == 1

    client.post(reply, _reply_data(_token(client.get(detail)), body="And the search is down too."))
    assert CaseReply.objects.filter(case=case).count() == 2


@pytest.mark.django_db
def test_back_to_the_case_fetched_afresh_and_the_reply_sent_again_is_one_reply(alpha, business):
    case = _open(alpha)
    client = _client(alpha.staff)
    detail = reverse("support:case-detail", args=[case.pk])
    reply = reverse("support:case-reply", args=[case.pk])
    client.post(reply, _reply_data(_token(client.get(detail))))

    again = client.post(reply, _reply_data(_token(client.get(detail))))

    assert CaseReply.objects.filter(case=case).count() == 1
    assert "This reply was already sent: it is on the case once." in _page_messages(client, again)


@pytest.mark.django_db
def test_the_same_reply_after_an_answer_or_an_hour_later_is_a_new_reply(alpha, business, engineer):
    case = _open(alpha)
    client = _client(alpha.staff)
    detail = reverse("support:case-detail", args=[case.pk])
    reply = reverse("support:case-reply", args=[case.pk])
    client.post(reply, _reply_data(_token(client.get(detail))))
    services.support_case_reply(user=engineer, case=case, body="Looking into it.")

    asked_again = client.post(reply, _reply_data(_token(client.get(detail))))
    assert "Your reply was added." in _page_messages(client, asked_again)
    with time_machine.travel(timezone.now() + datetime.timedelta(minutes=61)):
        client.post(reply, _reply_data(_token(client.get(detail))))

    bodies = list(CaseReply.objects.filter(case=case).values_list("body", flat=True))
    assert bodies == [
        "Any news? It is still down.",
        "Looking into it.",
        "Any news? It is still down.",
        "Any news? It is still down.",
    ]


# Once something happened on the case, the same text sent again is meant again -----------------------------


def _support_resolves(case, engineer, reseller):
    services.support_case_status_change(user=engineer, case=case, status="resolved")


def _support_waits_on_the_customer_and_takes_it_back(case, engineer, reseller):
    # No reply, and the case ends where the reply left it: only the steps in between tell.
    services.support_case_status_change(user=engineer, case=case, status="waiting_on_customer")
    services.support_case_status_change(user=engineer, case=case, status="in_progress")


def _the_reseller_passes_it_on(case, engineer, reseller):
    services.support_case_escalate(user=reseller.user, case=case)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "meanwhile",
    [_support_resolves, _support_waits_on_the_customer_and_takes_it_back, _the_reseller_passes_it_on],
)
def test_the_same_reply_after_the_case_moved_on_without_a_reply_is_a_new_reply(
    alpha, business, engineer, reseller, meanwhile
):
    SupportSubscriptionFactory(
        customer=alpha.customer, account=reseller.account, plan="business", support_partner=reseller.partner
    )
    case = services.support_case_open(
        user=alpha.staff,
        account=reseller.account,
        subject="Checkout is down",
        description="Every request to the checkout answers 503.",
        severity="production_down",
    )
    services.support_case_reply(user=reseller.user, case=case, body="Please restart the instance.")
    client = _client(alpha.staff)
    detail = reverse("support:case-detail", args=[case.pk])
    reply = reverse("support:case-reply", args=[case.pk])
    client.post(reply, _reply_data(_token(client.get(detail)), body="Restarted. It still fails."))
    meanwhile(case, engineer, reseller)

    # The customer answers from the case page as it is now: it still fails.
    again = client.post(reply, _reply_data(_token(client.get(detail)), body="Restarted. It still fails."))

    assert "Your reply was added." in _page_messages(client, again)
    assert CaseReply.objects.filter(case=case, author=alpha.staff).count() == 2
    case.refresh_from_db()
    assert case.status == "in_progress"  # a requester's reply reopens a resolved case


@pytest.mark.django_db
def test_the_same_answer_after_the_customer_resolved_the_case_is_a_new_reply(alpha, business, engineer):
    case = _open(alpha)
    client = _client(engineer)
    detail = reverse("support:case-detail", args=[case.pk])
    reply = reverse("support:case-reply", args=[case.pk])
    client.post(reply, _reply_data(_token(client.get(detail)), body="Fixed: the load balancer is back."))
    services.support_case_status_change(user=alpha.staff, case=case, status="resolved")

    again = client.post(
        reply, _reply_data(_token(client.get(detail)), body="Fixed: the load balancer is back.")
    )

    assert "Your reply was added." in _page_messages(client, again)
    assert CaseReply.objects.filter(case=case).count() == 2


@pytest.mark.django_db
def test_back_and_the_reply_sent_again_after_the_sla_check_marked_the_case_is_still_one_reply(
    alpha, business
):
    # The deadline passing is no one's answer: the customer's resend is still the reply they sent.
    case = _open(alpha)
    client = _client(alpha.staff)
    detail = reverse("support:case-detail", args=[case.pk])
    reply = reverse("support:case-reply", args=[case.pk])
    with time_machine.travel(timezone.now() + datetime.timedelta(hours=2)):
        client.post(reply, _reply_data(_token(client.get(detail))))
        assert check_run("support_sla").status == CheckRunStatus.SUCCEEDED
        case.refresh_from_db()
        assert case.breached_at is not None

        again = client.post(reply, _reply_data(_token(client.get(detail))))

        assert "This reply was already sent: it is on the case once." in _page_messages(client, again)
    assert CaseReply.objects.filter(case=case).count() == 1


def _support_answers(case, engineer, customer_staff):
    services.support_case_reply(user=engineer, case=case, body="Fixed: the load balancer is back.")


def _support_answers_and_resolves(case, engineer, customer_staff):
    _support_answers(case, engineer, customer_staff)
    services.support_case_status_change(user=engineer, case=case, status="resolved")


def _the_customer_resolves_it(case, engineer, customer_staff):
    services.support_case_status_change(user=customer_staff, case=case, status="resolved")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "meanwhile", [_support_answers, _support_answers_and_resolves, _the_customer_resolves_it]
)
def test_the_same_problem_told_again_once_its_case_moved_on_opens_a_new_case(
    alpha, business, engineer, meanwhile
):
    client = _client(alpha.staff)
    client.post(NEW_CASE, _case_data(alpha.account, _token(client.get(NEW_CASE))))
    first = SupportCase.objects.get()
    meanwhile(first, engineer, alpha.staff)

    # Twenty minutes later checkout is down again: the customer reports it, from a new form.
    again = client.post(NEW_CASE, _case_data(alpha.account, _token(client.get(NEW_CASE))))

    assert "is open." in _page_messages(client, again)
    assert SupportCase.objects.count() == 2
    assert again["Location"] != reverse("support:case-detail", args=[first.pk])


# At the same moment ---------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_new_case_sent_twice_at_once_opens_one_case(alpha, business):
    data = _case_data(alpha.account, _token(_client(alpha.staff).get(NEW_CASE)))

    outcome = sent_twice_at_once(alpha.customer, lambda: _client(alpha.staff).post(NEW_CASE, data))

    assert "one error" not in outcome and "other error" not in outcome, outcome
    case = SupportCase.objects.get()
    assert outcome["one"]["Location"] == outcome["other"]["Location"]
    assert outcome["one"]["Location"] == reverse("support:case-detail", args=[case.pk])


@pytest.mark.django_db(transaction=True)
def test_a_reply_sent_twice_at_once_is_one_reply(alpha, business):
    case = _open(alpha)
    detail = reverse("support:case-detail", args=[case.pk])
    reply = reverse("support:case-reply", args=[case.pk])
    data = _reply_data(_token(_client(alpha.staff).get(detail)))

    outcome = sent_twice_at_once(case, lambda: _client(alpha.staff).post(reply, data))

    assert "one error" not in outcome and "other error" not in outcome, outcome
    assert outcome["one"].status_code == outcome["other"].status_code == 303
    assert CaseReply.objects.filter(case=case).count() == 1
