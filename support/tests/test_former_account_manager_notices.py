"""The TAM qualification notice goes to the customer's Account Manager only while they hold the role:
somebody whose Account Manager role was taken is no longer told of the customer's plans."""

import datetime

import pytest
from django.contrib.auth.models import Group

from apn_portal.accounts.choices import StaffRole
from support.models import StaffCertification
from support.selectors import tam_qualification_notices
from tests.factories import StaffCertificationFactory, SupportSubscriptionFactory

pytestmark = pytest.mark.django_db


def test_a_former_account_manager_is_not_sent_the_tam_qualification_notice(alpha, tam):
    today = datetime.date.today()
    StaffCertification.objects.filter(user=tam).delete()  # qualified until today only
    StaffCertificationFactory(user=tam, earned_on=today - datetime.timedelta(days=700), expires_on=today)
    SupportSubscriptionFactory(customer=alpha.customer, plan="enterprise", tam=tam)
    manager = alpha.customer.account_manager
    manager.email = "ann@provider.example"
    manager.save()
    [before] = [n for n in tam_qualification_notices(today, 30) if n.customer_id == alpha.customer.pk]
    assert before.account_manager_email == "ann@provider.example"

    manager.groups.remove(Group.objects.get(name=StaffRole.ACCOUNT_MANAGER.value))

    [after] = [n for n in tam_qualification_notices(today, 30) if n.customer_id == alpha.customer.pk]
    assert after.account_manager_email == ""
