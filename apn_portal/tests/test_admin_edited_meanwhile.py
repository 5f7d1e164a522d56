"""A change page saved after somebody else changed what it shows is refused with why, and nothing is
saved: Django would write the older page's values back over the colleague's change, even on a row or a
field its user never touched. Opened again, the page shows the change, and saves."""

import html
import re
import threading

import pytest
from django.contrib import admin
from django.test import Client, RequestFactory
from django.urls import reverse

from partners.models import Certification
from partners.tests.test_admin import change_form_data
from support.tests.test_admin import plan_form_data
from tests.factories import (
    CertificationFactory,
    PartnerFactory,
    PdmFactory,
    SuperUserFactory,
    SupportEngineerFactory,
    support_plan,
)
from tests.locks import sent_twice_at_once
from tests.world import World

pytestmark = pytest.mark.django_db

REFUSED = "Somebody else saved a change to this {} after you opened this page: nothing was saved."


def signed_in(username: str) -> Client:
    client = Client()
    client.force_login(SupportEngineerFactory(username=username))
    return client


def as_the_page_posts_it(client, plan) -> dict:
    """The plan's change page as its browser posts it back: its fields, rows, and what it showed."""
    url = reverse("admin:support_supportplan_change", args=[plan.pk])
    state = re.search(r'name="_page_state" value="([^"]*)"', client.get(url).content.decode())
    assert state, "a change page carries what it showed"
    return plan_form_data(client, plan) | {
        "successor": plan.successor_id or "",
        "_page_state": html.unescape(state.group(1)),
    }


def with_minutes(data: dict, plan, severity: str, minutes: int) -> dict:
    rows = list(plan.response_targets.order_by("-minutes", "id"))
    index = next(i for i, row in enumerate(rows) if row.severity == severity)
    return data | {f"response_targets-{index}-minutes": str(minutes)}


def saved_at_the_same_moment(row, url, pages) -> dict:
    """Each (client, posted data) of `pages` posted to `url` in a thread of its own, both held on `row`'s
    lock and let go together (tests.locks): the status and page each answered."""
    pending, mine = iter(pages), {}

    def send():
        client, data = mine.setdefault(threading.current_thread().name, next(pending))
        response = client.post(url, data)
        return response.status_code, html.unescape(response.content.decode())

    return sent_twice_at_once(row, send)


def the_one_refused(outcome: dict) -> str:
    """The page of the save refused; the other was saved."""
    assert sorted(status for status, _page in outcome.values()) == [200, 302], outcome.keys()
    return next(page for status, page in outcome.values() if status == 200)


@pytest.fixture
def plan():
    return support_plan("business")


def test_an_older_page_saved_after_a_colleague_changed_a_row_is_refused_not_saved_over_them(plan):
    url = reverse("admin:support_supportplan_change", args=[plan.pk])
    eli, ola = signed_in("eli"), signed_in("ola")
    elis_page, olas_page = as_the_page_posts_it(eli, plan), as_the_page_posts_it(ola, plan)
    target = plan.response_targets.get(severity="production_down")

    assert eli.post(url, with_minutes(elis_page, plan, "production_down", 30)).status_code == 302
    # Ola, on the page she opened before, changes only the summary: the row she did not touch is stale.
    refused = ola.post(url, olas_page | {"summary": "Updated wording."})

    assert refused.status_code == 200
    assert REFUSED.format("first-response target") in html.unescape(refused.content.decode())
    plan.refresh_from_db()
    target.refresh_from_db()
    assert (target.minutes, plan.summary) == (30, support_plan("business").summary)
    # Sent again as it was, it is refused again: the page still shows what she first saw.
    assert ola.post(url, olas_page | {"summary": "Updated wording."}).status_code == 200

    # Opened again, the page shows Eli's 30 minutes, and her change is saved over them, not instead.
    fresh = as_the_page_posts_it(ola, plan)
    assert ola.post(url, fresh | {"summary": "Updated wording."}).status_code == 302
    plan.refresh_from_db()
    target.refresh_from_db()
    assert (target.minutes, plan.summary) == (30, "Updated wording.")


def test_an_older_page_saved_after_a_colleague_changed_a_field_is_refused_beside_the_form(plan):
    url = reverse("admin:support_supportplan_change", args=[plan.pk])
    eli, ola = signed_in("eli"), signed_in("ola")
    elis_page, olas_page = as_the_page_posts_it(eli, plan), as_the_page_posts_it(ola, plan)

    assert eli.post(url, elis_page | {"summary": "Eli's wording."}).status_code == 302
    refused = ola.post(url, with_minutes(olas_page, plan, "production_down", 45))

    assert refused.status_code == 200
    assert REFUSED.format("support plan") in html.unescape(refused.content.decode())
    plan.refresh_from_db()
    assert plan.summary == "Eli's wording."
    assert plan.response_targets.get(severity="production_down").minutes == 60


def test_a_page_saved_twice_in_a_row_by_its_own_user_is_saved_both_times(plan):
    url = reverse("admin:support_supportplan_change", args=[plan.pk])
    eli = signed_in("eli")

    for minutes in (30, 20):
        page = as_the_page_posts_it(eli, plan)  # "Save and continue editing" opens it again
        assert eli.post(url, with_minutes(page, plan, "production_down", minutes)).status_code == 302

    assert plan.response_targets.get(severity="production_down").minutes == 20


def test_a_column_the_page_does_not_edit_changed_meanwhile_does_not_refuse_the_save(client):
    """certification_expiry marks what it reminded while a PDM has the page open: that is no edit of hers
    to refuse, and keep_unedited_as_stored keeps the mark."""
    pdm = PdmFactory()
    client.force_login(pdm)
    certification = CertificationFactory(staff_member__partner=PartnerFactory(pdm=pdm), credential_id="AB-1")
    url = reverse("admin:partners_certification_change", args=[certification.pk])
    data = change_form_data(client, url) | {"credential_id": "AB-12"}
    Certification.objects.filter(pk=certification.pk).update(last_reminder_days=7)

    assert client.post(url, data).status_code == 302

    certification.refresh_from_db()
    assert (certification.credential_id, certification.last_reminder_days) == ("AB-12", 7)


def test_a_post_without_what_the_page_showed_is_saved_as_django_saves_it(plan):
    """A script posting the form's fields alone (as the API without If-Match) has no page to be stale."""
    url = reverse("admin:support_supportplan_change", args=[plan.pk])
    eli = signed_in("eli")
    page = as_the_page_posts_it(eli, plan)
    del page["_page_state"]
    plan.response_targets.filter(severity="production_down").update(minutes=30)

    assert eli.post(url, page | {"summary": "Scripted."}).status_code == 302

    plan.refresh_from_db()
    assert plan.summary == "Scripted."


def test_no_change_page_opened_and_saved_at_once_is_taken_for_one_edited_meanwhile(client):
    """What each page shows must read the same when it is saved as when it was opened, or nobody could
    save it: every admin model's page, with its inlines' rows, as a superuser sees it."""
    world = World()
    world.grow(2)
    client.force_login(world.superuser)
    refused, saved = [], 0
    request = RequestFactory().get("/admin/")
    request.user = world.superuser
    for model, model_admin in admin.site._registry.items():
        anchor = world.anchor(model)
        if not model_admin.has_change_permission(request, anchor):
            continue  # a log, read-only: nothing to save
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[anchor.pk])
        page = change_form_data(client, url)
        answer = html.unescape(client.post(url, page).content.decode())
        if "after you opened this page" in answer:
            refused.append(model._meta.label_lower)
        saved += 1
    assert saved > 20
    assert not refused, f"Pages refused as edited meanwhile though nobody changed them: {refused}"


@pytest.mark.django_db(transaction=True)
def test_two_pages_opened_together_and_saved_at_the_same_moment_save_one_and_refuse_the_other():
    """The check and the save are one: each save reads the record under its lock, so the second of two
    saves at the same moment finds the first's change and is refused, rather than checked before it and
    written over it."""
    eli, ola = SuperUserFactory(username="eli"), SuperUserFactory(username="ola")
    certification = CertificationFactory(credential_id="AB-1", name="Original name")
    url = reverse("admin:partners_certification_change", args=[certification.pk])
    pages = []
    for user, change in ((eli, {"credential_id": "AB-2"}), (ola, {"name": "Ola's name"})):
        client = Client()
        client.force_login(user)
        pages.append((client, change_form_data(client, url) | change))

    refused = the_one_refused(saved_at_the_same_moment(certification, url, pages))

    assert REFUSED.format("certification") in refused
    certification.refresh_from_db()
    saved = (certification.credential_id, certification.name)
    assert saved in (("AB-2", "Original name"), ("AB-1", "Ola's name"))


@pytest.mark.django_db(transaction=True)
def test_two_pages_changing_the_same_row_at_the_same_moment_save_one_and_refuse_the_other(plan):
    url = reverse("admin:support_supportplan_change", args=[plan.pk])
    pages = []
    for username, minutes in (("eli", 30), ("ola", 45)):
        client = signed_in(username)
        page = with_minutes(as_the_page_posts_it(client, plan), plan, "production_down", minutes)
        pages.append((client, page))

    # Both wait on the plan's row, each having checked its rows against the stored ones.
    refused = the_one_refused(saved_at_the_same_moment(plan, url, pages))

    assert REFUSED.format("first-response target") in refused
    assert plan.response_targets.get(severity="production_down").minutes in (30, 45)
