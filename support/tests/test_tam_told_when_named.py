"""A TAM who becomes a customer's TAM (named by its Account Manager, or brought by a change of plan) is
told by email which customer, on which plan and who named them; nobody is told of naming themselves, nor
of a naming undone before the email goes out."""

import pytest
from django.core import mail

from apn_portal.outbox.models import OutboxMessage
from apn_portal.outbox.services import outbox_deliver_message
from engagements import services as engagement_services
from support import services
from support.selectors import current_customer_subscription
from tests.factories import QualifiedTamFactory, SupportSubscriptionFactory, support_plan

pytestmark = pytest.mark.django_db


def told(tam):
    return list(OutboxMessage.objects.filter(dedupe_key__startswith="customer-tam-named:", to=[tam.email]))


@pytest.fixture
def tom(db):
    return QualifiedTamFactory(username="tam-tom", first_name="Tom", email="tom@provider.example")


def test_the_tam_the_account_manager_names_is_told(alpha, tam, tom):
    SupportSubscriptionFactory(customer=alpha.customer, plan="enterprise", tam=tam)

    engagement_services.customer_assign_staff(
        user=alpha.account_manager, customer=alpha.customer, field="tam", member=tom
    )

    [email] = told(tom)
    assert "Alpha Customer" in email.subject
    assert "Enterprise" in email.body_text
    assert alpha.account_manager.get_full_name() in email.body_text
    assert not told(tam)  # the TAM who leaves is not told they arrived


def test_named_again_after_another_tam_is_told_again(alpha, tam, tom):
    SupportSubscriptionFactory(customer=alpha.customer, plan="enterprise", tam=tam)
    for member in (tom, tam, tom):
        engagement_services.customer_assign_staff(
            user=alpha.account_manager, customer=alpha.customer, field="tam", member=member
        )

    assert len(told(tom)) == 2
    assert len(told(tam)) == 1


def test_the_tam_a_new_plan_brings_is_told(alpha, tam):
    services.support_subscription_change(
        user=alpha.account_manager, customer=alpha.customer, plan=support_plan("enterprise"), tam=tam
    )

    [email] = told(tam)
    assert current_customer_subscription(alpha.customer).tam == tam
    assert "Alpha Customer" in email.body_text


def test_a_tam_who_names_themselves_is_not_told(alpha, tam, tom):
    SupportSubscriptionFactory(customer=alpha.customer, plan="enterprise", tam=tam)
    tom.is_superuser = True
    tom.save(update_fields=["is_superuser"])

    engagement_services.customer_assign_staff(user=tom, customer=alpha.customer, field="tam", member=tom)

    alpha.customer.refresh_from_db()
    assert alpha.customer.tam == tom
    assert not told(tom)


def test_a_tam_moved_on_from_before_the_email_goes_out_is_not_told(alpha, tam, tom):
    SupportSubscriptionFactory(customer=alpha.customer, plan="enterprise", tam=tam)
    for member in (tom, tam):  # named, then the former TAM put back, while the mail server is down
        engagement_services.customer_assign_staff(
            user=alpha.account_manager, customer=alpha.customer, field="tam", member=member
        )
    [email] = told(tom)

    mail.outbox.clear()
    outbox_deliver_message(email.pk)

    assert not [message for message in mail.outbox if tom.email in message.to]


def test_the_tam_still_named_when_the_email_goes_out_is_told(alpha, tam, tom):
    SupportSubscriptionFactory(customer=alpha.customer, plan="enterprise", tam=tam)
    engagement_services.customer_assign_staff(
        user=alpha.account_manager, customer=alpha.customer, field="tam", member=tom
    )
    [email] = told(tom)

    mail.outbox.clear()
    outbox_deliver_message(email.pk)

    [sent] = mail.outbox
    assert sent.to == [tom.email]
    assert sent.subject == "You are now Alpha Customer's Technical Account Manager"
