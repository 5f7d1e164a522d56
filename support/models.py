"""Support plans (dated data), who is on which plan, the provider staff's certifications, and support
cases with their first-response deadlines.

Invariants live in the database: check and unique constraints here; on PostgreSQL also the cross-table
ones in migration 0003 (a case's or subscription's account belongs to its customer; a subscription's TAM
coverage is its plan's). The services check the same first, with messages written for people.
"""

import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from apn_portal.dates import validate_plausible_date
from apn_portal.models import TimeStampedModel
from partners.choices import CertificationLevel
from partners.models import certification_default_expiry
from support.choices import (
    DONE_CASE_STATUSES,
    CaseStatus,
    CaseType,
    CertificationTrack,
    ReplySide,
    Severity,
    SubscriptionChange,
    TamCoverage,
    TechnicalSupportHours,
    TrustedAdvisorChecks,
)

# Who a reply with no author is shown as written by: the portal itself, on the provider's side.
PORTAL_AUTHOR = "APN Portal"

# The most a case's description or a reply holds, in characters, a line break counting as one: the pages'
# forms, the admin's and the API's serializers all take it from the fields below, so that a client cannot
# store a text the pages would refuse, and then have to show.
CASE_TEXT_MAX_LENGTH = 20000


class SupportPlan(TimeStampedModel):
    """A support level with the whitepaper's Table 1 features and, in PlanResponseTarget, how fast a case
    of each severity gets a first response. Plans are offered from one day and may retire on another, in
    favour of a successor that their subscriptions move to."""

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    rank = models.PositiveSmallIntegerField(
        help_text="Its place on the ladder, higher is more support: moving to a higher rank is an upgrade."
    )
    summary = models.CharField(max_length=300, blank=True)
    customer_service_24x7 = models.BooleanField("customer service 24x7x365", default=True)
    trusted_advisor = models.CharField(
        "Trusted Advisor checks", max_length=10, choices=TrustedAdvisorChecks.choices
    )
    health_dashboard = models.BooleanField("Personal Health Dashboard", default=True)
    health_api = models.BooleanField("Health API", default=False)
    support_forums = models.BooleanField(default=True)
    documentation = models.BooleanField("documentation, whitepapers, best practice guides", default=True)
    technical_support_hours = models.CharField(
        max_length=20,
        choices=TechnicalSupportHours.choices,
        help_text="Business hours count a case's first-response time only 08:00 to 18:00 on weekdays, "
        "in the customer's time zone; 24x7 counts every minute.",
    )
    technical_support_staff = models.CharField(
        max_length=100, blank=True, help_text="Who answers, e.g. 'Sr. Cloud Support Engineers'."
    )
    via_email = models.BooleanField("by email", default=False)
    via_chat = models.BooleanField("by chat", default=False)
    via_phone = models.BooleanField("by phone", default=False)
    tam_coverage = models.CharField(
        "TAM", max_length=12, choices=TamCoverage.choices, default=TamCoverage.NONE
    )
    available_from = models.DateField(help_text="The first day it can be subscribed to.")
    retires_on = models.DateField(
        null=True,
        blank=True,
        help_text="From this day it can no longer be subscribed to, and its subscriptions move to the "
        "successor.",
    )
    successor = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="predecessors",
        help_text="The plan that replaces it when it retires.",
    )
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["rank", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(retires_on__isnull=True) | Q(retires_on__gt=F("available_from")),
                name="support_plan_retires_after_available",
                violation_error_message="A plan retires after the day it becomes available.",
            ),
            models.CheckConstraint(
                condition=Q(successor__isnull=True) | Q(retires_on__isnull=False),
                name="support_plan_successor_needs_retirement",
                violation_error_message="Only a plan that retires has a successor: give its retirement day.",
            ),
            models.CheckConstraint(
                condition=~Q(successor=F("pk")),
                name="support_plan_not_its_own_successor",
                violation_error_message="A plan cannot succeed itself.",
            ),
            models.CheckConstraint(
                condition=~Q(technical_support_hours=TechnicalSupportHours.NONE)
                | Q(via_email=False, via_chat=False, via_phone=False),
                name="support_plan_no_channels_without_technical_support",
                violation_error_message="A plan without technical support has no technical support channels.",
            ),
            # The target of the composite foreign key that keeps each subscription's TAM coverage equal to
            # its plan's (migration 0003, PostgreSQL).
            models.UniqueConstraint(fields=["id", "tam_coverage"], name="support_plan_id_tam_key"),
        ]

    def __str__(self):
        return self.name

    def is_offered_on(self, day: datetime.date) -> bool:
        return self.available_from <= day and (self.retires_on is None or day < self.retires_on)

    @property
    def answers_in_business_hours_only(self) -> bool:
        return self.technical_support_hours == TechnicalSupportHours.BUSINESS_HOURS

    @property
    def channels(self) -> list[str]:
        return [
            name
            for name, on in (("email", self.via_email), ("chat", self.via_chat), ("phone", self.via_phone))
            if on
        ]

    def clean(self):
        # The retirement check moves a plan's customers to its successor on its retirement day: a successor
        # not offered that day (retired already, or one whose chain leads back to this plan) would move
        # them on again, or back and forth every day.
        errors = {}
        if (
            self.successor is not None
            and self.retires_on
            and not self.successor.is_offered_on(self.retires_on)
        ):
            errors["successor"] = (
                f"{self.successor.name} is not offered on {self.retires_on:%d %b %Y}, the day this plan "
                "retires: choose a plan its customers can move to that day."
            )
        elif (
            self.successor is not None
            and self.successor.tam_coverage == TamCoverage.DESIGNATED
            and self.tam_coverage != TamCoverage.DESIGNATED
        ):
            # Each customer needs its own TAM named there, which no check can choose: they would stay on
            # the retired plan for good.
            errors["successor"] = (
                f"{self.successor.name} comes with a designated TAM, which this plan's customers have not: "
                "the retirement check cannot move them to it. Choose a plan without one; their Account "
                "Managers move them on to it, naming a TAM."
            )
        if self.pk is not None:
            errors = {**self._predecessors_moved_off(), **errors}
        if errors:
            raise ValidationError(errors)
        if self.pk is None:
            return
        stored = SupportPlan.objects.filter(pk=self.pk).values_list("tam_coverage", flat=True).first()
        if stored is not None and stored != self.tam_coverage and self.subscriptions.exists():
            raise ValidationError(
                {
                    "tam_coverage": "Customers have subscribed to this plan: its TAM coverage is part of "
                    "what they signed up for. Retire it in favour of a new plan instead."
                }
            )

    def _predecessors_moved_off(self) -> dict[str, str]:
        """Errors for the plans retiring in favour of this one on a day this plan would not be offered."""
        errors = {}
        for predecessor in self.predecessors.exclude(pk=self.pk).filter(retires_on__isnull=False):
            day = predecessor.retires_on
            moves = f"{predecessor.name} moves its customers to this plan on {day:%d %b %Y}"
            if self.retires_on is not None and self.retires_on <= day:
                errors.setdefault("retires_on", f"{moves}: this plan retires after that day.")
            if self.available_from is not None and self.available_from > day:
                errors.setdefault(
                    "available_from", f"{moves}: this plan is offered from that day at the latest."
                )
            if (
                self.tam_coverage == TamCoverage.DESIGNATED
                and predecessor.tam_coverage != TamCoverage.DESIGNATED
            ):
                errors.setdefault(
                    "tam_coverage",
                    f"{moves}, whose customers have no designated TAM: the retirement check cannot name "
                    "one for each.",
                )
        return errors


class PlanResponseTarget(TimeStampedModel):
    """How soon a plan promises a first response to a technical case of one severity. A severity with no
    row is one the plan's customers cannot open a case at."""

    plan = models.ForeignKey(SupportPlan, on_delete=models.CASCADE, related_name="response_targets")
    severity = models.CharField(max_length=30, choices=Severity.choices)
    minutes = models.PositiveIntegerField(help_text="e.g. 60 for one hour, 1440 for 24 hours.")
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        verbose_name = "first-response target"
        ordering = ["plan", "-minutes"]
        constraints = [
            models.UniqueConstraint(
                fields=["plan", "severity"],
                name="plan_response_target_once_per_severity",
                violation_error_message="The plan already has a target for this severity.",
            ),
            models.CheckConstraint(
                condition=Q(minutes__gt=0),
                name="plan_response_target_positive",
                violation_error_message="A response target is at least one minute.",
            ),
        ]

    def __str__(self):
        return f"{self.plan}: {self.get_severity_display()} in {format_minutes(self.minutes)}"


def format_minutes(minutes: int | None) -> str:
    """'15 minutes', '1 hour', '24 hours', '1 h 30 min'."""
    if minutes is None:
        return ""
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} minute{'s' if rest != 1 else ''}"
    if not rest:
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{hours} h {rest} min"


class StaffCertification(TimeStampedModel):
    """A certification held by one of the provider's own people (partner staff's are partners.Certification).

    A TAM holds at least an associate-level Solutions Architect certification, unexpired; an Enterprise
    subscription can only name a TAM who does (support.selectors.tam_problem)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="provider_certifications",
        limit_choices_to={"is_staff": True, "partner__isnull": True, "customer__isnull": True},
    )
    track = models.CharField(max_length=30, choices=CertificationTrack.choices)
    level = models.CharField(max_length=20, choices=CertificationLevel.choices)
    name = models.CharField(max_length=150, help_text="e.g. Solutions Architect - Associate.")
    credential_id = models.CharField(max_length=100, blank=True)
    earned_on = models.DateField()
    expires_on = models.DateField(blank=True, help_text="Three years after earning unless given.")
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        verbose_name = "provider staff certification"
        ordering = ["user", "-expires_on", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_on__gt=F("earned_on")),
                name="staff_certification_expires_after_earned",
                violation_error_message="A certification must expire after the day it was earned.",
            ),
            models.UniqueConstraint(
                fields=["credential_id"],
                condition=~Q(credential_id=""),
                name="staff_certification_unique_credential_id",
                violation_error_message="Another staff certification already has this credential id.",
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.get_level_display()})"

    def save(self, *args, **kwargs):
        if self.expires_on is None and self.earned_on is not None:
            self.expires_on = certification_default_expiry(self.earned_on)
        super().save(*args, **kwargs)

    def clean(self):
        if self.earned_on is not None:
            # Checked here, not as a field validator (a migration): the default expiry is computed from
            # this day, and one near the calendar's end has no day three years on.
            try:
                validate_plausible_date(self.earned_on)
            except ValidationError as error:
                raise ValidationError({"earned_on": error.messages}) from error
        if self.expires_on is None and self.earned_on is not None:
            self.expires_on = certification_default_expiry(self.earned_on)
        if self.user_id is not None and not self.user.is_provider_staff:
            raise ValidationError({"user": f"{self.user} is not the provider's staff."})


class SupportSubscription(TimeStampedModel):
    """One customer (or one of its accounts) on one plan from `started_at` until `ended_at`.

    A change of plan ends the current row and starts a new one (`replaces` links them), so the rows of a
    customer or account are its history of upgrades and downgrades. An account's own subscription, when
    it has one, applies to it instead of its customer's.
    """

    customer = models.ForeignKey(
        "engagements.Customer", on_delete=models.PROTECT, related_name="support_subscriptions"
    )
    account = models.ForeignKey(
        "engagements.AwsAccount",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="support_subscriptions",
        help_text="Only for this account; empty for the whole customer.",
    )
    plan = models.ForeignKey(SupportPlan, on_delete=models.PROTECT, related_name="subscriptions")
    # Always the plan's (composite foreign key, migration 0003): the constraint below can then ask for a
    # TAM on exactly the subscriptions whose plan comes with a designated one.
    tam_coverage = models.CharField("TAM", max_length=12, choices=TamCoverage.choices, editable=False)
    tam = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="designated TAM",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="tam_subscriptions",
    )
    support_partner = models.ForeignKey(
        "partners.Partner",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="support_subscriptions",
        help_text="Partner-led support: the Solution Provider that resells the accounts answers their "
        "cases first.",
    )
    change = models.CharField(max_length=12, choices=SubscriptionChange.choices)
    replaces = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="replaced_by"
    )
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=300, blank=True)
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        verbose_name = "support subscription"
        ordering = ["customer", "account", "-started_at", "-id"]
        indexes = [models.Index(fields=["customer", "ended_at"], name="support_sub_customer_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["customer"],
                condition=Q(account__isnull=True, ended_at__isnull=True),
                name="support_subscription_one_current_per_customer",
                violation_error_message="The customer already has a current support plan.",
            ),
            models.UniqueConstraint(
                fields=["account"],
                condition=Q(account__isnull=False, ended_at__isnull=True),
                name="support_subscription_one_current_per_account",
                violation_error_message="The account already has a current support plan of its own.",
            ),
            models.CheckConstraint(
                condition=(Q(tam_coverage=TamCoverage.DESIGNATED) & Q(tam__isnull=False))
                | (~Q(tam_coverage=TamCoverage.DESIGNATED) & Q(tam__isnull=True)),
                name="support_subscription_designated_tam",
                violation_error_message="A plan with a designated TAM names one, and only such a plan does.",
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=F("started_at")),
                name="support_subscription_ends_after_start",
                violation_error_message="A subscription cannot end before it starts.",
            ),
            # Targets of the cases' composite foreign key (migration 0003).
            models.UniqueConstraint(fields=["id", "customer"], name="support_subscription_id_customer_key"),
        ]

    def __str__(self):
        scope = f"account {self.account.account_id}" if self.account_id else str(self.customer)
        return f"{scope} on {self.plan}"


class SupportCase(TimeStampedModel):
    """A question to support about one of the customer's accounts, with the first-response deadline its
    plan promised when it was opened."""

    customer = models.ForeignKey(
        "engagements.Customer", on_delete=models.PROTECT, related_name="support_cases"
    )
    account = models.ForeignKey(
        "engagements.AwsAccount", on_delete=models.PROTECT, related_name="support_cases"
    )
    subscription = models.ForeignKey(
        SupportSubscription,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="cases",
        help_text="The subscription that applied at opening; empty on the Basic plan every customer has.",
    )
    plan = models.ForeignKey(SupportPlan, on_delete=models.PROTECT, related_name="cases")
    case_type = models.CharField(max_length=20, choices=CaseType.choices, default=CaseType.TECHNICAL)
    severity = models.CharField(max_length=30, choices=Severity.choices)
    subject = models.CharField(max_length=200)
    description = models.TextField(max_length=CASE_TEXT_MAX_LENGTH)
    status = models.CharField(
        max_length=20, choices=CaseStatus.choices, default=CaseStatus.OPEN, db_index=True
    )
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    opened_by_partner = models.ForeignKey(
        "partners.Partner",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="support_cases_opened",
        help_text="The partner that opened it for the customer, if a partner did.",
    )
    handling_partner = models.ForeignKey(
        "partners.Partner",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="support_cases_handled",
        help_text="Partner-led support: the reselling partner that answers first.",
    )
    escalated_at = models.DateTimeField(
        null=True, blank=True, help_text="When the reselling partner passed it on to the provider."
    )
    opened_at = models.DateTimeField(default=timezone.now, db_index=True)
    response_target_minutes = models.PositiveIntegerField(null=True, blank=True, editable=False)
    business_hours_only = models.BooleanField(default=False, editable=False)
    first_response_due_at = models.DateTimeField(null=True, blank=True, editable=False)
    first_responded_at = models.DateTimeField(null=True, blank=True, editable=False)
    first_responder = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    breached_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="Its first-response deadline passed unanswered."
    )
    resolved_at = models.DateTimeField(null=True, blank=True, editable=False)
    # How many steps somebody took on the case since it was opened: each reply (the portal's own line on
    # a hand-over too), status change and escalation adds one, in its transaction under the case's lock;
    # the clock (a breach marked, a deadline moved) adds none. 0: still as it was opened. A reply records
    # the count it left (CaseReply.step): while the two are equal, nothing happened on the case since.
    # What tells a form sent again after Back from the same text meant again (support.services).
    steps = models.PositiveIntegerField(default=0, editable=False)
    # One submit of the new-case form is one case, however often the browser sends it (a double click,
    # Back and resubmit): a digest of the form's per-render token, who sent it and what they sent
    # (support.services.support_case_submit). Unique, so a repeat can never be a second case with its own
    # deadline; empty for cases opened without a token (the API, which has its Idempotency-Key).
    submission_key = models.CharField(max_length=64, null=True, blank=True, unique=True, editable=False)

    class Meta:
        verbose_name = "support case"
        ordering = ["-opened_at", "-id"]
        indexes = [
            models.Index(fields=["customer", "-opened_at"], name="support_case_customer_idx"),
            models.Index(fields=["handling_partner", "-opened_at"], name="support_case_handler_idx"),
            models.Index(fields=["opened_by_partner", "-opened_at"], name="support_case_opener_idx"),
            # What the support_sla check scans: unanswered cases, by deadline.
            models.Index(
                fields=["first_response_due_at"],
                condition=Q(first_responded_at__isnull=True, breached_at__isnull=True),
                name="support_case_awaiting_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(subject="") & ~Q(description=""),
                name="support_case_subject_and_description",
                violation_error_message="Say what the case is about: a subject and a description.",
            ),
            models.CheckConstraint(
                condition=(Q(response_target_minutes__isnull=True) & Q(first_response_due_at__isnull=True))
                | (Q(response_target_minutes__isnull=False) & Q(first_response_due_at__isnull=False)),
                name="support_case_deadline_iff_target",
                violation_error_message="A case has a first-response deadline when its plan sets a target.",
            ),
            models.CheckConstraint(
                condition=Q(first_response_due_at__isnull=True) | Q(first_response_due_at__gt=F("opened_at")),
                name="support_case_due_after_opening",
                violation_error_message="A first-response deadline comes after the case is opened.",
            ),
            models.CheckConstraint(
                condition=(Q(first_responded_at__isnull=True) & Q(first_responder__isnull=True))
                | (Q(first_responded_at__gte=F("opened_at"))),
                name="support_case_first_response_after_opening",
                violation_error_message="A first response comes after the case is opened, from somebody.",
            ),
            # Apart from the one above: a NULL first_responded_at makes its comparison unknown, which a
            # CHECK lets pass, so a responder without a time would otherwise be accepted.
            models.CheckConstraint(
                condition=Q(first_responder__isnull=True) | Q(first_responded_at__isnull=False),
                name="support_case_first_responder_has_time",
                violation_error_message="A first responder is recorded with the time of the first response.",
            ),
            models.CheckConstraint(
                condition=Q(breached_at__isnull=True) | Q(first_response_due_at__isnull=False),
                name="support_case_breach_needs_deadline",
                violation_error_message="Only a case with a first-response deadline can breach it.",
            ),
            models.CheckConstraint(
                condition=(Q(status__in=DONE_CASE_STATUSES) & Q(resolved_at__isnull=False))
                | (~Q(status__in=DONE_CASE_STATUSES) & Q(resolved_at__isnull=True)),
                name="support_case_resolved_iff_done",
                violation_error_message="A resolved or closed case records when; an active one does not.",
            ),
            models.CheckConstraint(
                condition=Q(escalated_at__isnull=True) | Q(handling_partner__isnull=False),
                name="support_case_escalation_from_partner",
                violation_error_message="Only a case a partner handles can be escalated to the provider.",
            ),
        ]

    def __str__(self):
        return f"#{self.pk} {self.subject}"

    @property
    def is_active(self) -> bool:
        return self.status not in DONE_CASE_STATUSES

    @property
    def response_target_text(self) -> str:
        return format_minutes(self.response_target_minutes)

    @property
    def with_partner(self) -> bool:
        """Answered by the reselling partner (partner-led support) until it escalates."""
        return self.handling_partner_id is not None and self.escalated_at is None


class CaseReply(TimeStampedModel):
    case = models.ForeignKey(SupportCase, on_delete=models.CASCADE, related_name="replies")
    # None: written by the portal itself (a scheduled check that ended the partner's partner-led support).
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    side = models.CharField(max_length=20, choices=ReplySide.choices)
    body = models.TextField(max_length=CASE_TEXT_MAX_LENGTH)
    # The case's `steps` once this reply was added (empty for replies from before it was counted).
    step = models.PositiveIntegerField(null=True, blank=True, editable=False)
    # As SupportCase.submission_key: one submit of the reply form is one reply.
    submission_key = models.CharField(max_length=64, null=True, blank=True, unique=True, editable=False)

    class Meta:
        verbose_name = "case reply"
        verbose_name_plural = "case replies"
        ordering = ["case", "created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(body=""), name="case_reply_has_body", violation_error_message="Write a reply."
            ),
        ]

    def __str__(self):
        return f"Reply by {self.author_name} on #{self.case_id}"

    @property
    def author_name(self) -> str:
        if self.author is None:
            return PORTAL_AUTHOR
        return self.author.get_full_name() or self.author.username
