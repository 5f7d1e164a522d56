"""The partner's profile in its own area: the preview, proposed changes, and the PDM's decision."""

import re
import threading
from html import escape, unescape

import pytest
from django.conf import settings
from django.db import connection, connections
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apn_portal.accounts.choices import StaffRole
from apn_portal.exceptions import ConflictError, DomainError, PermissionDeniedError
from apn_portal.outbox.models import OutboxMessage
from apn_portal.outbox.services import outbox_flush
from partners.choices import ProfileChangeStatus
from partners.models import ProfileChangeRequest
from partners.services import (
    profile_change_approve,
    profile_change_reject,
    profile_change_submit,
)
from partners.tests.test_admin import change_form_data
from tests.factories import (
    ContactRequestFactory,
    IndustryFactory,
    OfficeFactory,
    PartnerFactory,
    PartnerUserFactory,
    PdmFactory,
    StaffUserFactory,
    SuperUserFactory,
    UseCaseFactory,
)
from tests.locks import lock_held, sessions_waiting_for_locks, wait_for
from tests.textarea import as_the_browser_sends

pytestmark = pytest.mark.django_db


@pytest.fixture
def pdm():
    return PdmFactory(username="pat", email="pat@provider.example")


@pytest.fixture
def acme(pdm):
    partner = PartnerFactory(
        name="Acme Cloud",
        slug="acme-cloud",
        description="We migrate workloads.",
        website="https://acme.example",
        pdm=pdm,
        is_published=False,
    )
    partner.industries.set([IndustryFactory(name="Retail", slug="retail-x")])
    OfficeFactory(partner=partner, city="Leeds", is_headquarters=True)
    return partner


@pytest.fixture
def acme_user(acme):
    return PartnerUserFactory(partner=acme, username="ann", email="ann@acme.example")


@pytest.fixture
def acme_client(client, acme_user):
    client.force_login(acme_user)
    return client


def propose(partner, user, **changes):
    values = {
        "description": partner.description,
        "website": partner.website,
        "industries": list(partner.industries.all()),
        "use_cases": list(partner.use_cases.all()),
        **changes,
    }
    proposal, _ = profile_change_submit(partner=partner, user=user, **values)
    return proposal


def text_of(response) -> str:
    """The page's visible text on one line, so assertions read like what a person sees."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", response.content.decode(), flags=re.S)
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip())


def proposal_emails():
    return OutboxMessage.objects.filter(subject__contains="proposes changes to its profile")


# Preview ------------------------------------------------------------------------------------------------


def test_the_preview_shows_the_profile_even_while_unpublished(acme_client):
    response = acme_client.get(reverse("my:profile"))

    page = response.content.decode()
    assert response.status_code == 200
    assert "Preview: not published." in page
    assert "We migrate workloads." in page
    assert "Retail" in page
    assert "Leeds" in page


def test_the_preview_is_of_the_users_own_partner_only(acme_client):
    PartnerFactory(name="Globex Systems", description="Globex secret plans.")

    page = acme_client.get(reverse("my:profile")).content.decode()

    assert "Globex" not in page


# Proposing ----------------------------------------------------------------------------------------------


def test_a_partner_user_proposes_changes_that_wait_for_the_pdm(acme_client, acme):
    analytics = UseCaseFactory(name="Analytics", slug="analytics-x")
    form = acme_client.get(reverse("my:profile-edit")).content.decode()
    assert "We migrate workloads." in form  # the form starts from the live profile

    response = acme_client.post(
        reverse("my:profile-edit"),
        {
            "description": "We migrate and modernise workloads.",
            "website": "https://www.acme.example",
            "industries": [acme.industries.get().pk],
            "use_cases": [analytics.pk],
        },
    )

    assert response.status_code == 303
    change = ProfileChangeRequest.objects.get()
    assert change.status == ProfileChangeStatus.PENDING
    assert change.description == "We migrate and modernise workloads."
    assert list(change.use_cases.all()) == [analytics]
    acme.refresh_from_db()
    assert acme.description == "We migrate workloads."  # nothing is live before the PDM approves
    assert list(acme.use_cases.all()) == []
    page = acme_client.get(response["Location"]).content.decode()
    assert "is waiting for your Partner Development Manager" in page


def test_a_description_typed_in_paragraphs_is_proposed_as_typed(acme_client, acme):
    # The browser sends each line break as CR LF; the API's client sends LF: the same text is one proposal.
    typed = "We migrate workloads.\n\nAnd we run them for you."

    response = acme_client.post(
        reverse("my:profile-edit"),
        {
            "description": as_the_browser_sends(typed),
            "website": acme.website,
            "industries": [acme.industries.get().pk],
        },
    )

    assert response.status_code == 303
    assert ProfileChangeRequest.objects.get().description == typed


def test_the_pdm_is_told_of_a_proposal(acme, acme_user):
    change = propose(acme, acme_user, description="New text.")

    outbox_flush()

    message = OutboxMessage.objects.get(dedupe_key=f"profile-change:{change.pk}:proposed")
    assert message.to == ["pat@provider.example"]
    assert reverse("admin:partners_profilechangerequest_change", args=[change.pk]) in message.body_text


def test_an_invalid_proposal_shows_its_errors(acme_client):
    response = acme_client.post(reverse("my:profile-edit"), {"description": "x", "website": "not a url"})

    assert response.status_code == 400
    assert "Enter a valid URL." in response.content.decode()
    assert not ProfileChangeRequest.objects.exists()


def test_a_proposal_that_changes_nothing_is_refused(acme_client, acme):
    response = acme_client.post(
        reverse("my:profile-edit"),
        {
            "description": acme.description,
            "website": acme.website,
            "industries": [acme.industries.get().pk],
        },
    )

    assert response.status_code == 400
    assert "change something to propose it" in response.content.decode()


def test_sending_the_live_profile_back_withdraws_the_waiting_proposal(acme, acme_user, acme_client, pdm):
    # The form starts from the waiting proposal; the partner thinks better of it and sets it back.
    change = propose(acme, acme_user, description="We are simply the best.")

    response = acme_client.post(
        reverse("my:profile-edit"),
        {"description": acme.description, "website": acme.website, "industries": [acme.industries.get().pk]},
    )

    assert response.status_code == 303
    change.refresh_from_db()
    assert change.status == ProfileChangeStatus.WITHDRAWN
    page = text_of(acme_client.get(response["Location"]))
    assert "Your waiting proposal was withdrawn: the profile stays as it is." in page
    assert "Withdrawn by the partner" in page
    # Nothing waits for the PDM any more, nor can they put it live.
    with pytest.raises(ConflictError, match="This proposal is already withdrawn by the partner"):
        profile_change_approve(change=change, user=pdm)
    acme.refresh_from_db()
    assert acme.description == "We migrate workloads."


def test_a_new_proposal_replaces_the_one_still_waiting(acme, acme_user):
    first = propose(acme, acme_user, description="First try.")
    second = propose(acme, acme_user, description="Second try.")

    first.refresh_from_db()
    assert first.status == ProfileChangeStatus.SUPERSEDED
    assert second.status == ProfileChangeStatus.PENDING


def test_the_same_proposal_sent_twice_is_one_proposal_and_one_email_to_the_pdm(acme_client, acme):
    # A double click on "Send for approval", or Back and send again.
    analytics = UseCaseFactory(name="Analytics", slug="analytics-x")
    data = {
        "description": "We migrate and modernise workloads.",
        "website": "https://www.acme.example",
        "industries": [acme.industries.get().pk],
        "use_cases": [analytics.pk],
    }

    first = acme_client.post(reverse("my:profile-edit"), data)
    assert "Your changes were sent" in text_of(acme_client.get(first["Location"]))
    again = acme_client.post(reverse("my:profile-edit"), data)

    assert first.status_code == again.status_code == 303
    change = ProfileChangeRequest.objects.get()
    assert change.status == ProfileChangeStatus.PENDING
    assert proposal_emails().count() == 1
    page = text_of(acme_client.get(again["Location"]))
    assert "These changes are already waiting for your Partner Development Manager" in page
    assert "Your changes were sent" not in page
    assert "Replaced by a later proposal" not in page


def test_sending_the_waiting_proposal_back_unchanged_keeps_it(acme, acme_user, acme_client):
    # The form starts from the waiting proposal: sending it as it is asks for nothing new.
    change = propose(acme, acme_user, description="Our proposed text.", website="https://new.acme.example")
    form = acme_client.get(reverse("my:profile-edit")).context["form"]
    data = {name: form[name].value() for name in ("description", "website", "industries", "use_cases")}

    response = acme_client.post(reverse("my:profile-edit"), data)

    assert response.status_code == 303
    assert list(ProfileChangeRequest.objects.all()) == [change]
    assert proposal_emails().count() == 1
    assert "already waiting for your Partner Development Manager" in text_of(
        acme_client.get(response["Location"])
    )


def test_a_colleague_proposing_the_same_gets_the_waiting_proposal(acme, acme_user):
    colleague = PartnerUserFactory(partner=acme, username="bob")
    values = {"description": "Shared text.", "website": acme.website, "industries": [], "use_cases": []}
    first, created = profile_change_submit(partner=acme, user=acme_user, **values)
    assert created

    # Spaces around the text, which the service strips, make no other proposal.
    again, created = profile_change_submit(
        partner=acme, user=colleague, **(values | {"description": "  Shared text.\n"})
    )

    assert (again, created) == (first, False)
    assert again.proposed_by == acme_user
    assert again.status == ProfileChangeStatus.PENDING
    assert proposal_emails().count() == 1


def test_a_proposal_differing_only_in_a_tag_still_replaces_the_waiting_one(acme, acme_user):
    analytics = UseCaseFactory(name="Analytics", slug="analytics-x")
    first = propose(acme, acme_user, description="New text.")

    second, created = profile_change_submit(
        partner=acme,
        user=acme_user,
        description="New text.",
        website=acme.website,
        industries=acme.industries.all(),
        use_cases=[analytics],
    )

    assert created
    assert second.status == ProfileChangeStatus.PENDING
    first.refresh_from_db()
    assert first.status == ProfileChangeStatus.SUPERSEDED
    assert proposal_emails().count() == 2


@pytest.mark.django_db(transaction=True)
def test_the_same_proposal_sent_twice_at_once_is_one_proposal_and_one_email():
    """Both sends are held (another session locks the partner's row) until both wait on that lock, so
    neither can have stored its proposal before the other looked; then the lock goes."""
    acme = PartnerFactory(pdm=PdmFactory(), description="Old text.")
    user = PartnerUserFactory(partner=acme)
    data = {"description": "New text.", "website": "https://new.acme.example"}
    responses = {}

    def send(name, client):
        try:
            responses[name] = client.post(reverse("my:profile-edit"), data)
        finally:
            connection.close()

    clients = {name: Client() for name in ("one", "two")}
    for client in clients.values():
        client.force_login(user)
    threads = [threading.Thread(target=send, args=item) for item in clients.items()]
    with lock_held(f"SELECT 1 FROM {acme._meta.db_table} WHERE id = %s FOR UPDATE", [acme.pk]):
        for thread in threads:
            thread.start()
        wait_for(lambda: sessions_waiting_for_locks() == 2)
    for thread in threads:
        thread.join(timeout=30)

    assert [responses[name].status_code for name in ("one", "two")] == [303, 303]
    assert ProfileChangeRequest.objects.get().status == ProfileChangeStatus.PENDING
    assert proposal_emails().count() == 1


def test_changing_a_waiting_proposal_starts_from_it_and_keeps_what_it_proposed(acme, acme_user, acme_client):
    cloud = IndustryFactory(name="Cloud gaming", slug="cloud-gaming")
    propose(acme, acme_user, description="Our proposed text.", industries=[cloud])
    analytics = UseCaseFactory(name="Analytics", slug="analytics-x")

    response = acme_client.get(reverse("my:profile-edit"))
    form = response.context["form"]
    assert form["description"].value() == "Our proposed text."
    assert list(form["industries"].value()) == [cloud.pk]
    assert "is still waiting for approval: the form starts from it" in " ".join(
        response.content.decode().split()
    )

    # Sending the form back with one more tag keeps the rest of the waiting proposal.
    data = {name: form[name].value() for name in ("description", "website")}
    data |= {"industries": [cloud.pk], "use_cases": [analytics.pk]}
    assert acme_client.post(reverse("my:profile-edit"), data).status_code == 303
    change = ProfileChangeRequest.objects.get(status=ProfileChangeStatus.PENDING)
    assert change.description == "Our proposed text."
    assert list(change.industries.all()) == [cloud]
    assert list(change.use_cases.all()) == [analytics]


def edit_page_data(client) -> dict:
    """What the profile form's page sends untouched, its page state included."""
    response = client.get(reverse("my:profile-edit"))
    form = response.context["form"]
    state = re.search(r'name="_page_state" value="([^"]*)"', response.content.decode())
    data = {name: form[name].value() for name in ("description", "website", "industries", "use_cases")}
    return data | ({"_page_state": unescape(state.group(1))} if state else {})


def test_a_page_opened_before_the_pdms_corrections_proposes_only_what_its_user_changed(
    acme, acme_client, pdm
):
    """Ann opens the form; her PDM then corrects the website and adds an industry on the partner's admin
    page; Ann changes only the text. Her proposal changes the text, and approving it keeps both
    corrections, where the page's old website and industries were proposed back as hers."""
    health = IndustryFactory(name="Healthcare", slug="healthcare-x")
    data = edit_page_data(acme_client)
    client = Client()
    client.force_login(pdm)
    url = reverse("admin:partners_partner_change", args=[acme.pk])
    corrected = change_form_data(client, url)
    corrected.update(
        website="https://www.acme-corrected.example", industries=[*corrected["industries"], str(health.pk)]
    )
    assert client.post(url, corrected).status_code == 302

    data["description"] = "Our new text."
    assert acme_client.post(reverse("my:profile-edit"), data).status_code == 303

    change = ProfileChangeRequest.objects.get(status=ProfileChangeStatus.PENDING)
    assert change.fields_changed == ["description"]
    assert "Changed by the partner: About text " in text_of(proposal_page(client, change))
    profile_change_approve(change=change, user=pdm)
    acme.refresh_from_db()
    assert acme.description == "Our new text."
    assert acme.website == "https://www.acme-corrected.example"
    assert set(acme.industries.values_list("slug", flat=True)) == {"retail-x", "healthcare-x"}


def test_colleagues_sending_pages_opened_at_once_both_have_their_changes_proposed(acme, pdm):
    """Ann and Bob open the form at once; Ann sends a new text, then Bob a new website. Bob's proposal,
    which replaces Ann's, keeps her text: approving it puts both live, where her text was lost."""
    ann, bob = (PartnerUserFactory(partner=acme, username=name) for name in ("ann", "bob"))
    ann_client, bob_client = Client(), Client()
    ann_client.force_login(ann)
    bob_client.force_login(bob)
    ann_data, bob_data = edit_page_data(ann_client), edit_page_data(bob_client)

    ann_data["description"] = "Ann's new text."
    assert ann_client.post(reverse("my:profile-edit"), ann_data).status_code == 303
    bob_data["website"] = "https://www.acme-bob.example"
    assert bob_client.post(reverse("my:profile-edit"), bob_data).status_code == 303

    change = ProfileChangeRequest.objects.get(status=ProfileChangeStatus.PENDING)
    assert change.fields_changed == ["description", "website"]
    profile_change_approve(change=change, user=pdm)
    acme.refresh_from_db()
    assert (acme.description, acme.website) == ("Ann's new text.", "https://www.acme-bob.example")


def test_a_proposal_laid_over_a_colleagues_names_them_and_they_hear_of_the_decision(acme, pdm):
    """Bob's proposal, sent while Ann's waits, keeps her text: Bob is told so, the partner's page and the
    PDM's page name her proposal, and the decision is emailed to both, where only Bob heard of it."""
    ann = PartnerUserFactory(partner=acme, username="ann", email="ann@acme.example")
    bob = PartnerUserFactory(partner=acme, username="bob", email="bob@acme.example")
    ann_client, bob_client, pdm_client = Client(), Client(), Client()
    ann_client.force_login(ann)
    bob_client.force_login(bob)
    pdm_client.force_login(pdm)
    ann_data, bob_data = edit_page_data(ann_client), edit_page_data(bob_client)
    ann_data["description"] = "Ann's new text."
    assert ann_client.post(reverse("my:profile-edit"), ann_data).status_code == 303
    anns = ProfileChangeRequest.objects.get(status=ProfileChangeStatus.PENDING)
    sent_at = f"{anns.created_at:%-d %b %Y, %H:%M} UTC"

    bob_data["website"] = "https://www.acme-bob.example"
    response = bob_client.post(reverse("my:profile-edit"), bob_data, follow=True)

    assert (
        f"Your changes were sent to your Partner Development Manager with those {ann} proposed on "
        f"{sent_at} (About text), which were still waiting: your proposal keeps them where you did not "
        "change the same field" in text_of(response)
    )
    bobs = ProfileChangeRequest.objects.get(status=ProfileChangeStatus.PENDING)
    assert bobs.proposed_by == bob
    assert (
        "It keeps the changes proposed before it, where it does not change the same field again: "
        f"{ann}'s of {sent_at} (About text)." in text_of(ann_client.get(reverse("my:profile")))
    )
    page = text_of(proposal_page(pdm_client, bobs))
    assert f"Proposed by: {bob}" in page
    assert f"Replaces: {ann}'s proposal of {sent_at} (About text)" in page
    assert "Changed by the partner: About text, website" in page

    profile_change_approve(change=bobs, user=pdm)

    outbox_flush()
    decided = OutboxMessage.objects.get(dedupe_key=f"profile-change:{bobs.pk}:approved")
    assert sorted(decided.to) == ["ann@acme.example", "bob@acme.example"]


def test_a_colleague_whose_every_change_was_changed_again_is_not_named_nor_told_it_is_live(acme, pdm):
    """Ann proposes a new text; Bob, whose page shows it, rewrites the text: nothing of hers is left in
    his proposal. Bob, the partner's page and the PDM's page no longer name hers as kept, Ann reads on the
    profile page that hers was replaced, and only Bob is told of the approval, where Ann read that her
    changes "were approved and are live now" and the pages said Bob's proposal kept her About text."""
    ann = PartnerUserFactory(partner=acme, username="ann", email="ann@acme.example")
    bob = PartnerUserFactory(partner=acme, username="bob", email="bob@acme.example")
    ann_client, bob_client, pdm_client = Client(), Client(), Client()
    ann_client.force_login(ann)
    bob_client.force_login(bob)
    pdm_client.force_login(pdm)
    ann_data = edit_page_data(ann_client)
    ann_data["description"] = "Ann's new text."
    assert ann_client.post(reverse("my:profile-edit"), ann_data).status_code == 303
    anns = ProfileChangeRequest.objects.get(status=ProfileChangeStatus.PENDING)
    sent_at = f"{anns.created_at:%-d %b %Y, %H:%M} UTC"

    bob_data = edit_page_data(bob_client)
    assert bob_data["description"] == "Ann's new text."
    bob_data["description"] = "Bob's text."
    response = bob_client.post(reverse("my:profile-edit"), bob_data, follow=True)

    assert "Your changes were sent to your Partner Development Manager; they go live" in text_of(response)
    bobs = ProfileChangeRequest.objects.get(status=ProfileChangeStatus.PENDING)
    assert bobs.fields_changed == ["description"]
    ann_page = text_of(ann_client.get(reverse("my:profile")))
    assert "keeps the changes proposed before it" not in ann_page
    assert f"{sent_at} {ann} Replaced by a later proposal" in ann_page
    assert "Replaces: None" in text_of(proposal_page(pdm_client, bobs))

    profile_change_approve(change=bobs, user=pdm)

    outbox_flush()
    decided = OutboxMessage.objects.get(dedupe_key=f"profile-change:{bobs.pk}:approved")
    assert decided.to == ["bob@acme.example"]


def test_a_colleagues_proposal_is_named_for_the_changes_still_proposed(acme, pdm):
    """Ann proposes a new text and industry; Bob rewrites the text. His proposal is said to keep her
    industries alone, where all her changes were named (About text, industries) though her text is gone,
    and she is told of the decision, as her industries go live with it."""
    ann = PartnerUserFactory(partner=acme, username="ann", email="ann@acme.example")
    bob = PartnerUserFactory(partner=acme, username="bob", email="bob@acme.example")
    health = IndustryFactory(name="Healthcare", slug="healthcare-x")
    ann_client, bob_client, pdm_client = Client(), Client(), Client()
    ann_client.force_login(ann)
    bob_client.force_login(bob)
    pdm_client.force_login(pdm)
    ann_data = edit_page_data(ann_client)
    ann_data.update(description="Ann's new text.", industries=[*ann_data["industries"], str(health.pk)])
    assert ann_client.post(reverse("my:profile-edit"), ann_data).status_code == 303
    anns = ProfileChangeRequest.objects.get(status=ProfileChangeStatus.PENDING)
    sent_at = f"{anns.created_at:%-d %b %Y, %H:%M} UTC"

    bob_data = edit_page_data(bob_client)
    bob_data["description"] = "Bob's text."
    told = text_of(bob_client.post(reverse("my:profile-edit"), bob_data, follow=True))

    assert f"with those {ann} proposed on {sent_at} (industries), which were still waiting" in told
    bobs = ProfileChangeRequest.objects.get(status=ProfileChangeStatus.PENDING)
    assert bobs.fields_changed == ["description", "industries"]
    assert (
        "It keeps the changes proposed before it, where it does not change the same field again: "
        f"{ann}'s of {sent_at} (industries)." in text_of(ann_client.get(reverse("my:profile")))
    )
    assert f"Replaces: {ann}'s proposal of {sent_at} (industries)" in text_of(proposal_page(pdm_client, bobs))

    profile_change_approve(change=bobs, user=pdm)

    outbox_flush()
    decided = OutboxMessage.objects.get(dedupe_key=f"profile-change:{bobs.pk}:approved")
    assert sorted(decided.to) == ["ann@acme.example", "bob@acme.example"]


def sent_at(proposal) -> str:
    return f"{proposal.created_at:%-d %b %Y, %H:%M} UTC"


def replaced_email(proposal) -> OutboxMessage:
    return OutboxMessage.objects.get(dedupe_key=f"profile-change:{proposal.pk}:replaced")


def lines_of(message) -> str:
    return " ".join(message.body_text.split())


def test_a_colleague_whose_proposal_is_replaced_is_told_what_the_new_one_still_proposes(acme, pdm):
    """Ann proposes a new text and industry; Bob rewrites the text. Ann is emailed, once, that Bob's
    proposal replaced hers, still proposing her industries and changing her text again, and her row on
    the profile page names Bob's proposal and what it keeps, where she heard nothing and the page read only
    "Replaced by a later proposal"."""
    ann = PartnerUserFactory(partner=acme, username="ann", email="ann@acme.example")
    bob = PartnerUserFactory(partner=acme, username="bob", email="bob@acme.example")
    health = IndustryFactory(name="Healthcare", slug="healthcare-x")
    ann_client, bob_client = Client(), Client()
    ann_client.force_login(ann)
    bob_client.force_login(bob)
    ann_data = edit_page_data(ann_client)
    ann_data.update(description="Ann's new text.", industries=[*ann_data["industries"], str(health.pk)])
    assert ann_client.post(reverse("my:profile-edit"), ann_data).status_code == 303
    anns = ProfileChangeRequest.objects.get(status=ProfileChangeStatus.PENDING)

    bob_data = edit_page_data(bob_client)
    bob_data["description"] = "Bob's text."
    assert bob_client.post(reverse("my:profile-edit"), bob_data).status_code == 303

    bobs = ProfileChangeRequest.objects.get(status=ProfileChangeStatus.PENDING)
    told = replaced_email(anns)
    assert told.to == ["ann@acme.example"]
    assert told.subject == "Your proposed profile changes for Acme Cloud were replaced"
    body = lines_of(told)
    assert (
        f"{bob} proposed changes to Acme Cloud's profile on {sent_at(bobs)}, which replace yours of "
        f"{sent_at(anns)}: only the latest proposal waits for approval." in body
    )
    assert "Of your changes, it still proposes: industries (they go live if it is approved)." in body
    assert "It changes again: About text." in body
    assert f"{settings.PORTAL_URL}/my/profile/" in body
    html = unescape(told.body_html)
    assert "Of your changes, it still proposes: industries (they go live if it is approved)." in html
    assert f'href="{settings.PORTAL_URL}/my/profile/"' in html
    assert OutboxMessage.objects.filter(to__contains=["ann@acme.example"]).count() == 1
    assert (
        f"{sent_at(anns)} {ann} Replaced by a later proposal By {bob}'s proposal of {sent_at(bobs)}; "
        "it still proposes your industries" in text_of(ann_client.get(reverse("my:profile")))
    )


def test_a_colleague_whose_every_change_was_changed_again_is_told_their_proposal_was_replaced(acme, pdm):
    """Bob rewrites the text Ann proposed: nothing of hers is left, so she hears of no decision. She is
    told, when it happens, that his proposal changes again everything she proposed, and the page says so,
    where nobody ever told her anything about her proposal again."""
    ann = PartnerUserFactory(partner=acme, username="ann", email="ann@acme.example")
    bob = PartnerUserFactory(partner=acme, username="bob", email="bob@acme.example")
    anns = propose(acme, ann, description="Ann's text.")
    bobs = propose(acme, bob, description="Bob's text.")

    told = replaced_email(anns)
    assert told.to == ["ann@acme.example"]
    body = lines_of(told)
    assert f"{bob} proposed changes to Acme Cloud's profile on {sent_at(bobs)}" in body
    assert (
        "It changes again everything you proposed (About text): nothing of yours goes live with it." in body
    )
    assert "still proposes" not in body
    assert "It changes again everything you proposed (About text)" in unescape(told.body_html)
    client = Client()
    client.force_login(ann)
    assert (
        f"{sent_at(anns)} {ann} Replaced by a later proposal By {bob}'s proposal of {sent_at(bobs)}; it "
        "changes again everything you proposed" in text_of(client.get(reverse("my:profile")))
    )


def test_a_colleague_is_told_which_of_their_changes_the_new_proposal_drops(acme, pdm):
    """Bob sets back the website Ann proposed and leaves her text: she reads that her text is still
    proposed and her website dropped."""
    ann = PartnerUserFactory(partner=acme, username="ann", email="ann@acme.example")
    bob = PartnerUserFactory(partner=acme, username="bob", email="bob@acme.example")
    anns = propose(acme, ann, description="Ann's text.", website="https://ann.acme.example")
    propose(acme, bob, description="Ann's text.", use_cases=[UseCaseFactory()])

    body = lines_of(replaced_email(anns))
    assert "Of your changes, it still proposes: About text (they go live if it is approved)." in body
    assert "It drops: website (the profile keeps what it has now)." in body
    assert "It changes again" not in body


def test_nobody_is_told_of_their_own_proposal_replacing_theirs(acme, acme_user, acme_client, pdm):
    """Ann changes her own waiting proposal: no email tells her, and her earlier one's row names her
    later proposal and what it keeps."""
    first = propose(acme, acme_user, description="Ann's text.", website="https://ann.acme.example")
    second = propose(acme, acme_user, description="Ann's text.", website="https://www.ann.acme.example")

    assert second.replaced()[0].proposal == first
    assert not OutboxMessage.objects.filter(dedupe_key__endswith=":replaced").exists()
    assert OutboxMessage.objects.filter(to__contains=["ann@acme.example"]).count() == 0
    assert (
        f"{sent_at(first)} {acme_user} Replaced by a later proposal By {acme_user}'s proposal of "
        f"{sent_at(second)}; it still proposes your About text"
        in text_of(acme_client.get(reverse("my:profile")))
    )


def test_the_profile_page_names_every_replaced_proposals_replacement_in_the_same_queries(acme, acme_client):
    """However many replaced proposals the page lists, it reads what each replacement keeps at once."""
    ann = PartnerUserFactory(partner=acme, username="ann2")
    bob = PartnerUserFactory(partner=acme, username="bob")
    tags = [IndustryFactory() for _ in range(5)]

    def count_queries():
        with CaptureQueriesContext(connection) as queries:
            assert acme_client.get(reverse("my:profile")).status_code == 200
        return len(queries)

    propose(acme, ann, description="Text 0.", industries=tags[:1])
    propose(acme, bob, description="Text 0.", industries=tags[:2])
    few = count_queries()
    for i in range(2, 5):
        propose(acme, [ann, bob][i % 2], description=f"Text {i}.", industries=tags[: i + 1])
    page = text_of(acme_client.get(reverse("my:profile")))

    assert count_queries() == few
    assert page.count("Replaced by a later proposal By ") == 4


def test_a_colleague_changing_what_the_waiting_proposal_changes_proposes_their_own_value(acme, acme_user):
    bob = PartnerUserFactory(partner=acme, username="bob")
    bob_client = Client()
    bob_client.force_login(bob)
    bob_data = edit_page_data(bob_client)
    propose(acme, acme_user, description="Ann's text.", website="https://ann.acme.example")

    bob_data["description"] = "Bob's text."
    assert bob_client.post(reverse("my:profile-edit"), bob_data).status_code == 303

    change = ProfileChangeRequest.objects.get(status=ProfileChangeStatus.PENDING)
    assert (change.description, change.website) == ("Bob's text.", "https://ann.acme.example")
    assert change.fields_changed == ["description", "website"]


def test_an_untouched_page_sent_while_a_colleagues_proposal_waits_keeps_that_proposal(acme, acme_user):
    bob = PartnerUserFactory(partner=acme, username="bob")
    bob_client = Client()
    bob_client.force_login(bob)
    bob_data = edit_page_data(bob_client)
    waiting = propose(acme, acme_user, description="Ann's text.")

    response = bob_client.post(reverse("my:profile-edit"), bob_data)

    assert response.status_code == 303
    waiting.refresh_from_db()
    assert waiting.status == ProfileChangeStatus.PENDING
    assert list(ProfileChangeRequest.objects.all()) == [waiting]


@pytest.mark.parametrize("state", [None, "", "not json", "[1, 2]", '{"description": 5}'])
def test_a_page_sent_without_its_state_proposes_what_differs_from_the_profile_as_it_stands(
    acme, acme_client, state
):
    # A page opened before the form carried its state, or a state no page of ours wrote: read as before.
    data = edit_page_data(acme_client)
    data.pop("_page_state", None)
    if state is not None:
        data["_page_state"] = state
    data["description"] = "New text."

    response = acme_client.post(reverse("my:profile-edit"), data)

    assert response.status_code == 303
    assert ProfileChangeRequest.objects.get().fields_changed == ["description"]


def test_a_page_shown_again_after_an_error_keeps_the_state_it_was_opened_with(acme, acme_client):
    data = edit_page_data(acme_client)
    acme.website = "https://www.acme-corrected.example"
    acme.save()

    data.update(description="New text.", website="not a url")
    again = acme_client.post(reverse("my:profile-edit"), data)
    assert again.status_code == 400
    assert f'name="_page_state" value="{escape(data.get("_page_state", ""))}"' in again.content.decode()
    data["website"] = "https://acme.example"  # fixed back to what the page showed
    assert acme_client.post(reverse("my:profile-edit"), data).status_code == 303

    assert ProfileChangeRequest.objects.get().fields_changed == ["description"]


def test_the_profile_page_shows_what_the_waiting_proposal_changes_and_since_when(
    acme, acme_user, acme_client
):
    change = propose(acme, acme_user, description="Our proposed text.", website="https://new.acme.example")

    page = " ".join(acme_client.get(reverse("my:profile")).content.decode().split())

    assert "Waiting for approval" in page
    assert f"Your proposal of {change.created_at:%-d %b %Y, %H:%M} UTC (by {acme_user}) is waiting" in page
    assert "Our proposed text." in page
    assert "https://new.acme.example" in page
    assert "Change your proposal" in page


def test_only_the_partners_own_staff_may_propose(acme, pdm):
    other = PartnerUserFactory(partner=PartnerFactory())

    for user in (other, pdm):
        with pytest.raises(PermissionDeniedError):
            propose(acme, user, description="Hijacked.")


# The PDM's decision -------------------------------------------------------------------------------------


def test_approval_puts_the_changes_live_and_tells_the_proposer(acme, acme_user, pdm):
    analytics = UseCaseFactory(name="Analytics", slug="analytics-x")
    change = propose(acme, acme_user, description="Brand new text.", use_cases=[analytics], industries=[])

    profile_change_approve(change=change, user=pdm)

    acme.refresh_from_db()
    assert acme.description == "Brand new text."
    assert list(acme.use_cases.all()) == [analytics]
    assert list(acme.industries.all()) == []
    assert acme.history.first().history_user == pdm
    change.refresh_from_db()
    assert (change.status, change.decided_by) == (ProfileChangeStatus.APPROVED, pdm)
    outbox_flush()
    assert OutboxMessage.objects.filter(dedupe_key=f"profile-change:{change.pk}:approved").exists()


def test_approval_keeps_what_the_pdm_corrected_meanwhile_in_what_the_partner_did_not_change(
    client, acme, acme_user, pdm
):
    """The partner changes only its text; before deciding, its PDM corrects the website and adds an
    industry on the partner's admin page. Approving puts the text live and keeps both corrections."""
    health = IndustryFactory(name="Healthcare", slug="healthcare-x")
    change = propose(acme, acme_user, description="Our new text.")
    assert change.fields_changed == ["description"]
    client.force_login(pdm)
    proposal_page = text_of(
        client.get(reverse("admin:partners_profilechangerequest_change", args=[change.pk]))
    )
    assert "Changed by the partner: About text" in proposal_page
    url = reverse("admin:partners_partner_change", args=[acme.pk])
    data = change_form_data(client, url)
    data.update(website="https://www.acme-new.example", industries=[*data["industries"], str(health.pk)])
    assert client.post(url, data).status_code == 302

    client.post(
        reverse("admin:partners_profilechangerequest_changelist"),
        {"action": "approve", "_selected_action": [change.pk]},
    )

    acme.refresh_from_db()
    assert acme.description == "Our new text."
    assert acme.website == "https://www.acme-new.example"
    assert set(acme.industries.values_list("slug", flat=True)) == {"retail-x", "healthcare-x"}


def test_changing_a_waiting_proposal_keeps_what_the_pdm_corrected_meanwhile(
    acme, acme_user, acme_client, pdm
):
    """The form starts from the live profile with the proposal's changes over it: the website the PDM
    corrected after the first proposal is the corrected one, and stays so through the revision."""
    propose(acme, acme_user, description="New text.")
    acme.website = "https://www.acme-corrected.example"
    acme.save()

    form = acme_client.get(reverse("my:profile-edit")).context["form"]
    assert (form.initial["description"], form.initial["website"]) == (
        "New text.",
        "https://www.acme-corrected.example",
    )
    data = {
        "description": "Newer text.",
        "website": form.initial["website"],
        "industries": [str(industry.pk) for industry in form.initial["industries"]],
        "use_cases": [str(use_case.pk) for use_case in form.initial["use_cases"]],
    }
    assert acme_client.post(reverse("my:profile-edit"), data).status_code == 303
    revised = ProfileChangeRequest.objects.get(status=ProfileChangeStatus.PENDING)
    assert revised.fields_changed == ["description"]
    page = acme_client.get(reverse("my:profile")).content.decode()
    panel = page[
        page.index('id="pending-heading"') : page.index("</section>", page.index('id="pending-heading"'))
    ]
    assert "<dt>About your company</dt>" in panel and "Newer text." in panel
    assert "<dt>Website</dt>" not in panel and "<dt>Industries</dt>" not in panel

    profile_change_approve(change=revised, user=pdm)

    acme.refresh_from_db()
    assert (acme.description, acme.website) == ("Newer text.", "https://www.acme-corrected.example")


def test_approval_sets_each_list_the_partner_changed_as_proposed(acme, acme_user, pdm):
    analytics = UseCaseFactory(name="Analytics", slug="analytics-y")
    change = propose(acme, acme_user, website="https://acme.example/en", use_cases=[analytics], industries=[])
    assert change.fields_changed == ["website", "industries", "use_cases"]
    acme.description = "Corrected by the PDM."
    acme.save()

    profile_change_approve(change=change, user=pdm)

    acme.refresh_from_db()
    assert (acme.description, acme.website) == ("Corrected by the PDM.", "https://acme.example/en")
    assert (list(acme.industries.all()), list(acme.use_cases.all())) == ([], [analytics])


def test_rejection_needs_a_reason_that_the_partner_sees(acme, acme_user, acme_client, pdm):
    change = propose(acme, acme_user, description="Best partner in the world!!!")

    with pytest.raises(DomainError):
        profile_change_reject(change=change, user=pdm, reason="")
    profile_change_reject(change=change, user=pdm, reason="Please keep superlatives out.")

    acme.refresh_from_db()
    assert acme.description == "We migrate workloads."
    page = acme_client.get(reverse("my:profile")).content.decode()
    assert "Please keep superlatives out." in page
    assert "Rejected" in page


def test_only_the_partners_pdm_or_a_superuser_decides(acme, acme_user):
    change = propose(acme, acme_user, description="New text.")

    for outsider in (PdmFactory(), StaffUserFactory(roles=[StaffRole.ACCOUNT_MANAGER]), acme_user):
        with pytest.raises(PermissionDeniedError):
            profile_change_approve(change=change, user=outsider)
    profile_change_approve(change=change, user=SuperUserFactory())


def test_a_decided_proposal_cannot_be_decided_again(acme, acme_user, pdm):
    change = propose(acme, acme_user, description="New text.")
    profile_change_approve(change=change, user=pdm)

    with pytest.raises(ConflictError):
        profile_change_reject(change=change, user=pdm, reason="Too late.")


# The admin ----------------------------------------------------------------------------------------------


def test_the_pdm_approves_from_the_admin_list(client, acme, acme_user, pdm):
    change = propose(acme, acme_user, description="Approved in the admin.")
    client.force_login(pdm)
    changelist = reverse("admin:partners_profilechangerequest_changelist")

    response = client.post(changelist, {"action": "approve", "_selected_action": [change.pk]})

    assert response.status_code == 302
    acme.refresh_from_db()
    assert acme.description == "Approved in the admin."


def test_the_pdm_rejects_from_the_admin_with_a_reason(client, acme, acme_user, pdm):
    change = propose(acme, acme_user, description="Rejected in the admin.")
    client.force_login(pdm)
    changelist = reverse("admin:partners_profilechangerequest_changelist")

    client.post(
        changelist,
        {"action": "reject", "_selected_action": [change.pk], "apply": "1", "reason": "Not accurate."},
    )

    change.refresh_from_db()
    assert (change.status, change.decision_reason) == (ProfileChangeStatus.REJECTED, "Not accurate.")


def test_another_pdm_cannot_approve_from_the_admin(client, acme, acme_user):
    change = propose(acme, acme_user, description="Not yours.")
    client.force_login(PdmFactory())

    client.post(
        reverse("admin:partners_profilechangerequest_changelist"),
        {"action": "approve", "_selected_action": [change.pk]},
    )

    change.refresh_from_db()
    assert change.status == ProfileChangeStatus.PENDING


def proposal_page(client, change):
    return client.get(reverse("admin:partners_profilechangerequest_change", args=[change.pk]))


def test_the_pdm_approves_on_the_page_the_email_opens(acme, acme_user, pdm):
    """The email's link opens the proposal's own page: its PDM approves there, with the page's CSRF token,
    and is brought back to it, now saying the proposal is approved and offering nothing more."""
    change = propose(acme, acme_user, description="Approved on its page.")
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(pdm)
    page = proposal_page(browser, change)
    text = text_of(page)
    assert "Approve (the changes go live)" in text and "Reject" in text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    approve = reverse("admin:partners_profilechangerequest_approve", args=[change.pk])
    assert browser.post(approve).status_code == 403  # no token: refused

    response = browser.post(approve, {"csrfmiddlewaretoken": token}, follow=True)

    assert response.redirect_chain[-1][0] == reverse(
        "admin:partners_profilechangerequest_change", args=[change.pk]
    )
    acme.refresh_from_db()
    assert acme.description == "Approved on its page."
    text = text_of(response)
    assert "Approved and live: Acme Cloud." in text
    assert "Approve (the changes go live)" not in text


def test_approving_a_partner_whose_name_ends_with_a_full_stop_says_so_with_one(client, acme, acme_user, pdm):
    acme.name = "Acme Cloud S.A."
    acme.save(update_fields=["name"])
    change = propose(acme, acme_user, description="Approved on its page.")
    client.force_login(pdm)

    response = client.post(
        reverse("admin:partners_profilechangerequest_approve", args=[change.pk]), follow=True
    )

    assert [str(message) for message in response.context["messages"]] == [
        "Approved and live: Acme Cloud S.A."
    ]


def test_the_pdm_rejects_on_the_proposals_page_with_a_reason(client, acme, acme_user, pdm):
    change = propose(acme, acme_user, description="Rejected on its page.")
    client.force_login(pdm)
    reject = reverse("admin:partners_profilechangerequest_reject", args=[change.pk])

    refused = text_of(client.post(reject, {"reason": " "}, follow=True))
    change.refresh_from_db()
    assert change.status == ProfileChangeStatus.PENDING
    assert "Acme Cloud: Say why the proposed changes are rejected; the partner reads it." in refused
    response = client.post(reject, {"reason": "Not accurate."}, follow=True)

    change.refresh_from_db()
    assert (change.status, change.decision_reason) == (ProfileChangeStatus.REJECTED, "Not accurate.")
    assert "Rejected: Acme Cloud." in text_of(response)
    acme.refresh_from_db()
    assert acme.description == "We migrate workloads."


def test_another_pdms_proposal_page_offers_no_decision_and_refuses_one(client, acme, acme_user):
    change = propose(acme, acme_user, description="Not yours.")
    client.force_login(PdmFactory())

    text = text_of(proposal_page(client, change))
    assert "Approve (the changes go live)" not in text and "Reject" not in text
    response = client.post(
        reverse("admin:partners_profilechangerequest_approve", args=[change.pk]), follow=True
    )

    assert "only its assigned PDM or a superuser can" in text_of(response)
    change.refresh_from_db()
    assert change.status == ProfileChangeStatus.PENDING


def test_a_decided_proposals_page_offers_no_decision(client, acme, acme_user, pdm):
    change = propose(acme, acme_user, description="Decided already.")
    profile_change_approve(change=change, user=pdm)
    client.force_login(pdm)

    text = text_of(proposal_page(client, change))

    assert "Approve (the changes go live)" not in text and "Reject" not in text
    response = client.post(
        reverse("admin:partners_profilechangerequest_reject", args=[change.pk]),
        {"reason": "Too late."},
        follow=True,
    )
    assert "Acme Cloud: This proposal is already approved" in text_of(response)
    change.refresh_from_db()
    assert change.status == ProfileChangeStatus.APPROVED


@pytest.mark.django_db(transaction=True)
def test_a_proposal_and_its_approval_at_the_same_moment_both_end_cleanly():
    """The proposer is queued on the partner's row first, then the PDM's approval: had the approval locked
    the proposal before the partner, the proposer (let through first) would wait on the proposal while the
    approval waits on the partner, and PostgreSQL would abort one of them as a deadlock."""
    pdm = PdmFactory()
    acme = PartnerFactory(pdm=pdm, description="Old text.")
    user = PartnerUserFactory(partner=acme)
    waiting = propose(acme, user, description="First text.")
    outcomes = {}

    def run(name, action):
        try:
            outcomes[name] = action()
        except Exception as error:  # the outcome is what the test compares
            outcomes[name] = error
        finally:
            connection.close()

    def send_again():
        proposal, _ = profile_change_submit(
            partner=acme,
            user=user,
            description="Second text.",
            website=acme.website,
            industries=[],
            use_cases=[],
        )
        return proposal

    def approve():
        return profile_change_approve(change=waiting, user=pdm)

    locker = connections.create_connection("default")
    try:
        with locker.cursor() as cursor:
            cursor.execute("BEGIN")
            cursor.execute(f"SELECT 1 FROM {acme._meta.db_table} WHERE id = %s FOR UPDATE", [acme.pk])
            threads = []
            for count, item in enumerate((("propose", send_again), ("approve", approve)), start=1):
                threads.append(threading.Thread(target=run, args=item))
                threads[-1].start()
                wait_for(lambda count=count: sessions_waiting_for_locks() == count)
            cursor.execute("COMMIT")
        for thread in threads:
            thread.join(timeout=30)
    finally:
        locker.close()

    # The new proposal replaced the waiting one, so the approval came too late: it says so.
    assert isinstance(outcomes["propose"], ProfileChangeRequest)
    assert isinstance(outcomes["approve"], ConflictError)
    assert "replaced by a later proposal" in outcomes["approve"].message
    assert ProfileChangeRequest.objects.get(status=ProfileChangeStatus.PENDING).description == "Second text."
    acme.refresh_from_db()
    assert acme.description == "Old text."


@pytest.mark.parametrize("pdm_state", ["none assigned", "deactivated"])
def test_a_partner_without_an_active_pdm_is_told_who_reviews_its_proposal(acme, acme_client, pdm, pdm_state):
    if pdm_state == "none assigned":
        acme.pdm = None
        acme.save()
    else:
        pdm.is_active = False
        pdm.save()
    reviewer = "the partner network's team (you have no Partner Development Manager at the moment)"

    form = text_of(acme_client.get(reverse("my:profile-edit")))
    response = acme_client.post(
        reverse("my:profile-edit"),
        {"description": "We migrate and modernise workloads.", "website": acme.website, "industries": []},
        follow=True,
    )

    assert f"{reviewer[0].upper()}{reviewer[1:]} reviews the changes" in form
    page = text_of(response)
    assert f"Your changes were sent to {reviewer}" in page
    assert f"is waiting for {reviewer}" in page
    assert "your Partner Development Manager" not in page


def test_a_lead_left_at_not_sure_yet_says_so_to_the_partner(acme, acme_client):
    lead = ContactRequestFactory(partner=acme, project_size="", timeline="")

    page = text_of(acme_client.get(reverse("my:lead-detail", args=[lead.reference])))

    assert "Project size Not sure yet" in page and "Timeline Not sure yet" in page
