"""The admin's actions go through partners.services: each does what it says, records who and why, and
shows a refusal as a message per row, never an error page."""

import datetime

import psycopg
import pytest
import time_machine
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

import apn_portal.admin as admin_base
import partners.admin.partner as partner_admin
from partners.choices import AuditResult, EnrollmentStatus, PartnerType, ProfileChangeStatus, TierChangeSource
from partners.models import Partner, ProgramEnrollment, TierChange
from partners.services import profile_change_submit
from tests.factories import (
    ApprovedEnrollmentFactory,
    CustomerReferenceFactory,
    IndustryFactory,
    PartnerFactory,
    PartnerUserFactory,
    PdmFactory,
    ProgramEnrollmentFactory,
    ProgramFactory,
    SuperUserFactory,
    give_select_evidence,
    program,
    tier,
)

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:partners_partner_changelist"


@pytest.fixture
def superuser(client):
    user = SuperUserFactory()
    client.force_login(user)
    return user


def run_action(client, url_name, action, objects, **extra):
    data = {"action": action, ACTION_CHECKBOX_NAME: [obj.pk for obj in objects], **extra}
    if "apply" not in extra:
        data["index"] = 0
    return client.post(reverse(url_name), data, follow=True)


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_recompute_promotes_a_partner_to_the_tier_its_evidence_supports(client, superuser):
    partner = PartnerFactory(name="Acme")
    give_select_evidence(partner)

    response = run_action(client, CHANGELIST, "recompute_tier", [partner])

    partner.refresh_from_db()
    assert partner.tier.slug == "select"
    change = TierChange.objects.get(partner=partner)
    assert (change.from_tier.slug, change.to_tier.slug, change.changed_by) == (
        "registered",
        "select",
        superuser,
    )
    assert "Promoted on recomputation" in change.reason
    assert "Tier changed for 1: Acme (Registered → Select)." in messages_of(response)

    again = run_action(client, CHANGELIST, "recompute_tier", [partner])
    assert "Nothing to do: already at the tier the evidence supports: Acme." in messages_of(again)
    assert TierChange.objects.filter(partner=partner).count() == 1


def test_change_tier_asks_for_a_tier_and_a_reason_then_records_both(client, superuser):
    partner = PartnerFactory(name="Acme")

    form_page = run_action(client, CHANGELIST, "change_tier", [partner])
    assert form_page.status_code == 200
    assert "Acme: now Registered" in form_page.content.decode()
    offered = {t.slug for t in form_page.context["form"].fields["to_tier"].queryset}
    assert offered == {"registered", "select", "advanced", "premier"}  # the consulting ladder only

    response = run_action(
        client,
        CHANGELIST,
        "change_tier",
        [partner],
        apply="1",
        to_tier=tier(slug="advanced").pk,
        reason="Audited in person in May.",
    )

    partner.refresh_from_db()
    assert partner.tier.slug == "advanced"
    change = TierChange.objects.get(partner=partner)
    assert (change.reason, change.changed_by, change.source) == (
        "Audited in person in May.",
        superuser,
        TierChangeSource.MANUAL,
    )
    assert "Tier changed for 1: Acme (Registered → Advanced)." in messages_of(response)


def test_change_tier_without_a_reason_changes_nothing(client, superuser):
    partner = PartnerFactory()

    response = run_action(
        client, CHANGELIST, "change_tier", [partner], apply="1", to_tier=tier(slug="select").pk, reason=""
    )

    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    partner.refresh_from_db()
    assert partner.tier.slug == "registered"
    assert not TierChange.objects.exists()


def test_a_refused_tier_change_is_a_message_for_that_partner_only(client, superuser):
    consulting = PartnerFactory(name="Consult Co")
    technology = PartnerFactory(name="Tech Co", partner_type=PartnerType.TECHNOLOGY)
    already = PartnerFactory(name="Already Co", tier=tier(slug="select"))

    response = run_action(
        client,
        CHANGELIST,
        "change_tier",
        [consulting, technology, already],
        apply="1",
        to_tier=tier(slug="select").pk,
        reason="Met the Select bar.",
    )

    assert response.status_code == 200
    messages = messages_of(response)
    assert "Tech Co: Select (Consulting) is not on the Technology ladder." in messages
    assert "Already Co: Already Co is already Select." in messages
    assert set(TierChange.objects.values_list("partner__name", flat=True)) == {"Consult Co"}


def test_the_partner_tier_page_recomputes_or_changes_one_partner(client, superuser):
    partner = PartnerFactory()
    give_select_evidence(partner)
    url = reverse("admin:partners_partner_tier", args=[partner.pk])

    page = client.get(url)
    assert "Set to Select, as the evidence supports" in page.content.decode()

    assert client.post(url, {"recompute": "1"}).status_code == 302
    partner.refresh_from_db()
    assert partner.tier.slug == "select"

    response = client.post(
        url, {"apply": "1", "to_tier": tier(slug="registered").pk, "reason": "Lost a lawsuit."}
    )
    assert response.status_code == 302
    partner.refresh_from_db()
    assert partner.tier.slug == "registered"
    assert TierChange.objects.filter(partner=partner, reason="Lost a lawsuit.", changed_by=superuser).exists()


def test_publish_and_unpublish(client, superuser):
    hidden, shown = PartnerFactory(is_published=False), PartnerFactory(is_published=True)

    run_action(client, CHANGELIST, "publish", [hidden, shown])
    assert Partner.objects.filter(is_published=True).count() == 2

    response = run_action(client, CHANGELIST, "unpublish", [hidden])
    hidden.refresh_from_db()
    assert not hidden.is_published
    assert f"Unpublished 1: {hidden.name}." in messages_of(response)


def _rolled_back_to_break_a_deadlock():
    # What Django raises when PostgreSQL undoes a transaction to break a deadlock with another request.
    raise OperationalError("deadlock detected") from psycopg.errors.DeadlockDetected("deadlock detected")


def test_a_row_the_database_undid_is_named_and_the_others_are_done(client, superuser, monkeypatch):
    partners = [PartnerFactory(name=f"Partner {n}") for n in range(1, 5)]
    for partner in partners:
        give_select_evidence(partner)
    recompute = partner_admin.partner_tier_recompute

    def third_deadlocks(*, partner, **kwargs):
        if partner.name == "Partner 3":
            _rolled_back_to_break_a_deadlock()
        return recompute(partner=partner, **kwargs)

    monkeypatch.setattr(partner_admin, "partner_tier_recompute", third_deadlocks)

    response = run_action(client, CHANGELIST, "recompute_tier", partners)

    assert response.status_code == 200  # not the page saying nothing was saved: three rows were
    assert set(Partner.objects.filter(tier__slug="select").values_list("name", flat=True)) == {
        "Partner 1",
        "Partner 2",
        "Partner 4",
    }
    assert messages_of(response) == [
        "Partner 3: not changed: another change to it was being made at the same moment, and the database "
        "undid this one. Select it again and repeat the action.",
        "Tier changed for 3: Partner 1 (Registered → Select); Partner 2 (Registered → Select); "
        "Partner 4 (Registered → Select).",
    ]


def test_another_database_error_in_a_bulk_action_is_not_taken_for_a_refusal(client, superuser, monkeypatch):
    def fails(**kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(partner_admin, "partner_tier_recompute", fails)
    client.raise_request_exception = False

    response = run_action(client, CHANGELIST, "recompute_tier", [PartnerFactory()])

    assert response.status_code == 500


def test_publishing_a_selection_costs_the_same_statements_for_3_and_30_partners(client, superuser):
    def publish(count):
        partners = PartnerFactory.create_batch(count, is_published=False)
        with CaptureQueriesContext(connection) as queries:
            response = run_action(client, CHANGELIST, "publish", partners)
        assert f"Published {count}:" in messages_of(response)[0]
        return len(queries)

    assert publish(30) == publish(3)
    assert Partner.objects.filter(is_published=False).count() == 0
    published = Partner.objects.order_by("pk").last()
    assert published.history.first().history_user == superuser
    # Its search entry too: Find a Partner shows it.
    assert published.name in client.get(reverse("partners:search"), {"q": published.name}).content.decode()


def test_publishing_keeps_the_partners_tags_in_its_history(client, superuser):
    partner = PartnerFactory(is_published=False)
    partner.industries.add(IndustryFactory())

    run_action(client, CHANGELIST, "publish", [partner])

    published = partner.history.order_by("-history_id").first()
    assert (published.is_published, published.history_user) == (True, superuser)
    # The version lists the partner's tags as every save's does: none shows as removed by publishing.
    assert [row.industry_id for row in published.industries.all()] == list(
        partner.industries.values_list("pk", flat=True)
    )


def test_an_action_on_more_rows_than_one_request_should_change_is_refused_whole(
    client, superuser, monkeypatch
):
    monkeypatch.setattr(admin_base, "ACTION_MAX_OBJECTS", 3)  # one service call per row
    monkeypatch.setattr(partner_admin, "SET_ACTION_MAX_OBJECTS", 5)  # a fixed number of statements
    partners = PartnerFactory.create_batch(4, is_published=False)
    for partner in partners:
        give_select_evidence(partner)

    response = run_action(client, CHANGELIST, "recompute_tier", partners)

    assert messages_of(response) == [
        "Select at most 3 rows for this action; narrow the list with filters or a search first."
    ]
    assert not Partner.objects.filter(tier__slug="select").exists()
    # Publishing is made in one go: the same selection is not too large for it.
    assert messages_of(run_action(client, CHANGELIST, "publish", partners))[0].startswith("Published 4:")
    too_many = [*partners, *PartnerFactory.create_batch(2)]
    assert messages_of(run_action(client, CHANGELIST, "unpublish", too_many)) == [
        "Select at most 5 rows for this action; narrow the list with filters or a search first."
    ]


ENROLLMENTS = "admin:partners_programenrollment_changelist"


def test_approve_an_enrollment_records_who_and_when(client, superuser):
    enrollment = ProgramEnrollmentFactory(program=ProgramFactory(validity_months=12))

    response = run_action(client, ENROLLMENTS, "approve", [enrollment])

    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.APPROVED
    assert enrollment.approved_by == superuser
    assert enrollment.expires_on > enrollment.approved_on
    assert any(message.startswith("Approved 1:") for message in messages_of(response))


def test_approve_refuses_an_enrollment_whose_audit_has_not_passed(client, superuser):
    partner = PartnerFactory(name="Acme", tier=tier(slug="select"))
    unaudited = ProgramEnrollmentFactory(partner=partner, program=program("migration"))
    audited = ProgramEnrollmentFactory(
        partner=partner, program=program("security"), audit_date="2026-01-10", audit_result=AuditResult.PASSED
    )

    response = run_action(client, ENROLLMENTS, "approve", [unaudited, audited])

    assert response.status_code == 200
    assert "Acme in Migration Competency: Migration Competency needs a passed audit before approval." in (
        messages_of(response)
    )
    unaudited.refresh_from_db()
    audited.refresh_from_db()
    assert (unaudited.status, audited.status) == (EnrollmentStatus.APPLIED, EnrollmentStatus.APPROVED)


def test_approve_refuses_an_enrollment_whose_audit_is_dated_after_today(client, superuser):
    # 11 Nov, 12:00 UTC: already 12 Nov in Kiritimati, so an audit held there today is recorded as of 12 Nov.
    partner = PartnerFactory(name="Acme", tier=tier(slug="advanced"))
    enrollment = ProgramEnrollmentFactory(
        partner=partner,
        program=program("managed-service-provider"),
        applied_on=datetime.date(2026, 10, 1),
        audit_date=datetime.date(2026, 11, 12),
        audit_result=AuditResult.PASSED,
    )

    with time_machine.travel(datetime.datetime(2026, 11, 11, 12, tzinfo=datetime.UTC), tick=False):
        response = run_action(client, ENROLLMENTS, "approve", [enrollment])

    assert (
        "Acme in Managed Service Provider: An approval cannot be dated before the audit it stands on "
        "(12 Nov 2026)." in messages_of(response)
    )
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.approved_on) == (EnrollmentStatus.APPLIED, None)


def test_revoke_asks_for_a_reason_and_records_it(client, superuser):
    enrollment = ProgramEnrollmentFactory()

    form_page = run_action(client, ENROLLMENTS, "revoke", [enrollment])
    assert "Revoke enrollments" in form_page.content.decode()
    without_reason = run_action(client, ENROLLMENTS, "revoke", [enrollment], apply="1", reason=" ")
    assert "Say why the enrollment is revoked." in without_reason.content.decode()
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.APPLIED

    run_action(client, ENROLLMENTS, "revoke", [enrollment], apply="1", reason="Audit evidence was forged.")

    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.status_reason) == (
        EnrollmentStatus.REVOKED,
        "Audit evidence was forged.",
    )
    latest = enrollment.history.latest("history_date")
    assert latest.history_user == superuser


def test_validating_references_records_who_validated_them(client, superuser):
    reference = CustomerReferenceFactory(is_validated=False, validated_at=None)

    run_action(client, "admin:partners_customerreference_changelist", "validate", [reference])

    reference.refresh_from_db()
    assert (reference.is_validated, reference.validated_by) == (True, superuser)
    assert reference.validated_at is not None

    run_action(client, "admin:partners_customerreference_changelist", "withdraw_validation", [reference])
    reference.refresh_from_db()
    assert (reference.is_validated, reference.validated_by, reference.validated_at) == (False, None, None)


def test_a_pdm_approves_or_rejects_proposed_profile_changes(client):
    pdm = PdmFactory()
    client.force_login(pdm)
    partner = PartnerFactory(pdm=pdm, description="Old text")
    author = PartnerUserFactory(partner=partner)

    def propose(description):
        proposal, _ = profile_change_submit(
            partner=partner, user=author, description=description, website="", industries=[], use_cases=[]
        )
        return proposal

    changes = "admin:partners_profilechangerequest_changelist"
    run_action(client, changes, "approve", [propose("New text")])
    partner.refresh_from_db()
    assert partner.description == "New text"

    rejected = propose("Spam text")
    run_action(client, changes, "reject", [rejected], apply="1", reason="Reads like an advert.")
    rejected.refresh_from_db()
    partner.refresh_from_db()
    assert (rejected.status, rejected.decision_reason) == (
        ProfileChangeStatus.REJECTED,
        "Reads like an advert.",
    )
    assert partner.description == "New text"


def test_the_admins_own_forms_tie_each_help_text_to_its_control(client, superuser):
    """Django points each control's aria-describedby at "<id>_helptext": the portal's own admin pages (the
    tier page, the tier action, the certification import) give their help texts that id, so a screen
    reader reads the help with the control."""
    partner = PartnerFactory()
    pages = {
        reverse("admin:partners_partner_tier", args=[partner.pk]): ("id_to_tier", "id_reason"),
        reverse("admin:partners_certification_import_csv"): ("id_file",),
    }
    for url, controls in pages.items():
        page = client.get(url).content.decode()
        for control in controls:
            assert f'aria-describedby="{control}_helptext"' in page, (url, control)
            assert f'id="{control}_helptext"' in page, (url, control)


def test_an_approved_enrollment_is_not_deleted_but_revoked_with_a_reason(client, superuser):
    approved = ApprovedEnrollmentFactory(
        partner=PartnerFactory(name="Resell Co"), program=program("migration")
    )

    page = client.get(reverse("admin:partners_programenrollment_delete", args=[approved.pk]), follow=True)
    assert messages_of(page) == [
        "Not deleted: Resell Co in Migration Competency is approved: revoke it with a reason instead."
    ]
    client.post(reverse("admin:partners_programenrollment_delete", args=[approved.pk]), {"post": "yes"})
    assert ProgramEnrollment.objects.filter(pk=approved.pk).exists()


def test_a_selection_holding_an_approved_enrollment_is_not_deleted_at_all(client, superuser):
    # As Django refuses a selection with protected records: the whole of it, each reason said.
    approved = [
        ApprovedEnrollmentFactory(partner=PartnerFactory(name=name), program=program("migration"))
        for name in ("Resell Co", "Build Co")
    ]
    applied = ProgramEnrollmentFactory()
    selection = [*approved, applied]

    confirm = run_action(client, ENROLLMENTS, "delete_selected", selection)
    done = run_action(client, ENROLLMENTS, "delete_selected", selection, post="yes")

    refused = [
        "Not deleted: Build Co in Migration Competency is approved: revoke it with a reason instead.",
        "Not deleted: Resell Co in Migration Competency is approved: revoke it with a reason instead.",
    ]
    assert messages_of(confirm) == refused
    assert messages_of(done) == refused
    assert ProgramEnrollment.objects.filter(pk__in=[e.pk for e in selection]).count() == 3
    # Without the approved ones, the rest goes.
    run_action(client, ENROLLMENTS, "delete_selected", [applied], post="yes")
    assert not ProgramEnrollment.objects.filter(pk=applied.pk).exists()


def test_the_bulk_delete_still_refuses_another_pdms_enrollments(client):
    pdm = PdmFactory()
    client.force_login(pdm)
    mine = ProgramEnrollmentFactory(partner=PartnerFactory(pdm=pdm))
    theirs = ProgramEnrollmentFactory(partner=PartnerFactory(pdm=PdmFactory()))

    response = run_action(client, ENROLLMENTS, "delete_selected", [mine, theirs], post="yes")

    assert any(m.startswith("Nothing was deleted: the selection includes") for m in messages_of(response))
    assert ProgramEnrollment.objects.filter(pk__in=[mine.pk, theirs.pk]).count() == 2


def test_an_application_is_still_deleted(client, superuser):
    applied = ProgramEnrollmentFactory()

    client.post(reverse("admin:partners_programenrollment_delete", args=[applied.pk]), {"post": "yes"})

    assert not ProgramEnrollment.objects.filter(pk=applied.pk).exists()
