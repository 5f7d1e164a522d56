"""Customers, their AWS accounts, and the engagements in which partners and the provider work for them.

Invariants live in the database (check and unique constraints here; on PostgreSQL also the cross-table
ones in migration 0002, which a check constraint cannot express). `clean()` repeats the cross-table ones so
a form can say what is wrong before the database refuses.
"""

import datetime
import re
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Concat
from django.utils import dateformat, timezone
from simple_history.models import HistoricalRecords

from apn_portal.accounts.choices import StaffRole
from apn_portal.accounts.models import role_holders_condition
from apn_portal.dates import validate_plausible_date
from apn_portal.models import TimeStampedModel
from engagements.choices import (
    AccessGrantState,
    AccessScope,
    AgreementType,
    EngagementStage,
    EngagementStatus,
    PartnerRole,
    Payer,
    ProcurementModel,
    ServicesBuyer,
    TeamRole,
)

ACCOUNT_ID_PATTERN = r"^[0-9]{12}$"
ACCOUNT_ID_MESSAGE = "An AWS account id is exactly 12 digits, leading zeros included (e.g. 012345678901)."
ROLE_NAME_PATTERN = r"^[A-Za-z0-9+=,.@_-]{1,64}$"
ROLE_NAME_MESSAGE = (
    "An IAM role name has 1 to 64 letters, digits or the characters + = , . @ _ - (no spaces or slashes)."
)
# arn:aws:iam::<12-digit account>:role/<optional/path/><role name>
ROLE_ARN_PATTERN = r"^arn:aws:iam::[0-9]{12}:role/([A-Za-z0-9+=,.@_-]+/)*[A-Za-z0-9+=,.@_-]{1,64}$"
ROLE_ARN_MESSAGE = "A role ARN reads arn:aws:iam::<12-digit account id>:role/<role name>."

validate_account_id = RegexValidator(ACCOUNT_ID_PATTERN, ACCOUNT_ID_MESSAGE, code="invalid_account_id")
validate_role_name = RegexValidator(ROLE_NAME_PATTERN, ROLE_NAME_MESSAGE, code="invalid_role_name")
validate_role_arn = RegexValidator(ROLE_ARN_PATTERN, ROLE_ARN_MESSAGE, code="invalid_role_arn")


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(
            f"'{value}' is not a time zone name; use one like Europe/London or America/New_York.",
            code="invalid_time_zone",
        )


def role_arn_problem(role_arn: str, account_id: str, role_name: str) -> str | None:
    """Why a role ARN does not name `role_name` in account `account_id`, or None when it does."""
    if not re.match(ROLE_ARN_PATTERN, role_arn or ""):
        return ROLE_ARN_MESSAGE
    arn_account = role_arn.split(":")[4]
    if arn_account != account_id:
        return (
            f"The role ARN names account {arn_account}, but the grant is on account {account_id}: "
            f"it must read arn:aws:iam::{account_id}:role/{role_name or '<role name>'}."
        )
    if role_name and role_arn.rsplit("/", 1)[1] != role_name:
        return f"The role ARN ends in '{role_arn.rsplit('/', 1)[1]}', not the role name '{role_name}'."
    return None


def access_deadline(contract_end: datetime.date, time_zone: str) -> datetime.datetime:
    """The moment a contract's last day ends in the customer's time zone: no grant outlives it."""
    zone = zoneinfo.ZoneInfo(time_zone)
    midnight = datetime.datetime.combine(contract_end + datetime.timedelta(days=1), datetime.time.min, zone)
    # Where the clocks skip midnight (Cairo, Santiago), 00:00 does not exist, and Python never finds such a
    # time equal to a moment in another zone: through UTC it becomes the day's real first moment, 01:00.
    return midnight.astimezone(datetime.UTC).astimezone(zone)


def access_end_in_words(expires_at: datetime.datetime, last_day: datetime.date | None, time_zone: str) -> str:
    """When access ends, on the customer's clock and as it was chosen, to follow "until": "the end of 30 Oct
    2026 (CET)" for access to the end of a day, whose end (00:00 on 31 Oct) reads as a day too many, or
    "30 Oct 2026, 14:00 CET" for an exact moment."""
    local = timezone.localtime(expires_at, zoneinfo.ZoneInfo(time_zone))
    if last_day is not None:
        return f"the end of {dateformat.format(last_day, 'j M Y')} ({dateformat.format(local, 'T')})"
    return dateformat.format(local, "j M Y, H:i T")


class Customer(TimeStampedModel):
    """The end-user organisation. It owns its AWS accounts and decides who may act in them."""

    name = models.CharField(max_length=200, db_index=True)
    slug = models.SlugField(
        max_length=200,
        unique=True,
        error_messages={"unique": "Another customer already uses this slug; choose a different one."},
    )
    agreement = models.CharField(
        max_length=20,
        choices=AgreementType.choices,
        default=AgreementType.CUSTOMER,
        help_text="An Enterprise Agreement governs many accounts under one management account.",
    )
    time_zone = models.CharField(
        max_length=64,
        default="UTC",
        validators=[validate_time_zone],
        help_text="Where the customer works, e.g. Europe/London: business hours and contract days use it.",
    )
    account_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="managed_customers",
        limit_choices_to=role_holders_condition(StaffRole.ACCOUNT_MANAGER),
    )
    solutions_architect = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="architected_customers",
        limit_choices_to=role_holders_condition(StaffRole.SOLUTIONS_ARCHITECT),
    )
    tam = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="TAM",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tam_customers",
        limit_choices_to=role_holders_condition(StaffRole.TAM),
        help_text="The Technical Account Manager that Enterprise Support brings.",
    )
    access_administrators = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="administered_customers",
        help_text=(
            "The customer's own staff who may grant and revoke partners' access to its accounts "
            "(the whitepaper's 'privileged roles')."
        ),
    )
    history = HistoricalRecords(excluded_fields=["updated_at"], m2m_fields=[access_administrators])

    class Meta:
        ordering = ["name", "id"]

    def __str__(self):
        return self.name

    # Contracts, access grants and support deadlines run by the customer's calendar, not the server's.
    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    def local_today(self) -> datetime.date:
        return timezone.localdate(timezone=self.zone)

    def local_time(self, moment: datetime.datetime) -> datetime.datetime:
        return timezone.localtime(moment, timezone=self.zone)


def todays_in_zones(zones, now: datetime.datetime | None = None) -> dict[str, datetime.date]:
    """Time zone -> the day it is at `now` (now, when not given) there: Customer.local_today for every
    customer in one of `zones` at once, all at the same moment."""
    now = now or timezone.now()
    return {zone: timezone.localdate(now, zoneinfo.ZoneInfo(zone)) for zone in zones}


class AwsAccount(TimeStampedModel):
    account_id = models.CharField(
        "account id",
        # Longer than 12 so a wrong length gets the 12-digit message rather than a storage error.
        max_length=20,
        unique=True,
        validators=[validate_account_id],
        error_messages={"unique": "This AWS account id is already registered."},
    )
    name = models.CharField(max_length=150)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="accounts")
    management_account = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="member_accounts",
        help_text="The organisation's management ('master') account this account is grouped under.",
    )
    consolidated_billing = models.BooleanField(
        default=False, help_text="Billed through its management account, with the organisation's discounts."
    )
    paid_by = models.CharField(max_length=20, choices=Payer.choices, default=Payer.CUSTOMER)
    reseller = models.ForeignKey(
        "partners.Partner",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="resold_accounts",
        help_text="The Solution Provider partner that bills this account, when a reseller pays.",
    )
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        verbose_name = "AWS account"
        ordering = ["customer", "account_id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(account_id__regex=ACCOUNT_ID_PATTERN),
                name="aws_account_id_twelve_digits",
                violation_error_message=ACCOUNT_ID_MESSAGE,
            ),
            models.CheckConstraint(
                condition=~Q(management_account=F("pk")),
                name="aws_account_not_its_own_management",
                violation_error_message="An account cannot be its own management account.",
            ),
            models.CheckConstraint(
                condition=Q(consolidated_billing=False) | Q(management_account__isnull=False),
                name="aws_account_consolidated_needs_management",
                violation_error_message="Consolidated billing needs the management account that pays.",
            ),
            models.CheckConstraint(
                condition=(Q(paid_by=Payer.RESELLER) & Q(reseller__isnull=False))
                | (~Q(paid_by=Payer.RESELLER) & Q(reseller__isnull=True)),
                name="aws_account_reseller_iff_reseller_pays",
                violation_error_message="Name the reseller when a reseller pays, and only then.",
            ),
            # The target of the composite foreign key (management account, customer) that keeps an
            # account's management account within the same customer (migration 0002, PostgreSQL).
            models.UniqueConstraint(fields=["id", "customer"], name="aws_account_id_customer_key"),
        ]

    def __str__(self):
        return f"{self.account_id} ({self.name})"

    def clean(self):
        errors = {}
        management = self.management_account
        if management is not None and self.customer_id is not None:
            if management.customer_id != self.customer_id:
                errors["management_account"] = (
                    f"{management} belongs to another customer; pick one of {self.customer}'s accounts."
                )
            elif management.management_account_id is not None:
                errors["management_account"] = (
                    f"{management} is itself a member of {management.management_account}; "
                    "group accounts under the organisation's management account."
                )
        if self.reseller_id is not None and self._names_reseller():
            from engagements.selectors import partner_is_solution_provider

            if not partner_is_solution_provider(self.reseller):
                errors["reseller"] = (
                    f"{self.reseller} is not an approved Solution Provider, so it cannot resell accounts."
                )
        if errors:
            raise ValidationError(errors)

    def _names_reseller(self) -> bool:
        """Whether this save names its reseller: a new account, or another reseller than the stored one. A
        reseller whose Solution Provider enrollment ended since stays on the account it billed (the record
        of who did, whose partner-led support ended with it), and the account's other fields still change;
        it is only not named again."""
        if self._state.adding or self.pk is None:
            return True
        return not AwsAccount.objects.filter(pk=self.pk, reseller_id=self.reseller_id).exists()


class Engagement(TimeStampedModel):
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="engagements")
    title = models.CharField(max_length=200)
    workload = models.CharField(max_length=200, help_text="What moves or is built, e.g. 'WordPress site'.")
    description = models.TextField(blank=True)
    procurement_model = models.CharField(
        max_length=20, choices=ProcurementModel.choices, default=ProcurementModel.DIRECT
    )
    status = models.CharField(
        max_length=20, choices=EngagementStatus.choices, default=EngagementStatus.PROPOSED, db_index=True
    )
    stage = models.CharField(
        max_length=20, choices=EngagementStage.choices, default=EngagementStage.ON_PREMISES
    )
    contact_request = models.OneToOneField(
        "partners.ContactRequest",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="engagement",
        help_text="The lead this engagement came from, if any.",
    )
    customer_reference = models.OneToOneField(
        "partners.CustomerReference",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="engagement",
        help_text="The reference created for the consulting partner when the engagement completed.",
    )
    completed_on = models.DateField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["customer", "status"], name="engagement_customer_status_idx")]
        constraints = [
            models.CheckConstraint(
                condition=(Q(status=EngagementStatus.COMPLETED) & Q(completed_on__isnull=False))
                | (~Q(status=EngagementStatus.COMPLETED) & Q(completed_on__isnull=True)),
                name="engagement_completed_iff_completion_date",
                violation_error_message="A completed engagement has a completion date, and only then.",
            ),
            models.CheckConstraint(
                condition=~Q(title=""),
                name="engagement_has_title",
                violation_error_message="Give the engagement a title.",
            ),
        ]

    def __str__(self):
        return f"{self.title} ({self.customer})"


# The most a stage's note holds, in characters: the page's form and the API's serializer take it from here.
STAGE_NOTE_MAX_LENGTH = 500


class EngagementStageEvent(TimeStampedModel):
    """When an engagement reached a step of the journey: its timeline."""

    engagement = models.ForeignKey(Engagement, on_delete=models.CASCADE, related_name="stage_events")
    stage = models.CharField(max_length=20, choices=EngagementStage.choices)
    reached_on = models.DateField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["engagement", "reached_on", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["engagement", "stage"],
                name="stage_event_once_per_stage",
                violation_error_message="The engagement has already reached this stage.",
            ),
        ]

    def __str__(self):
        return f"{self.get_stage_display()} on {self.reached_on}"


class EngagementPartner(TimeStampedModel):
    """A partner's part in an engagement, under a contract with a start and an (inclusive) last day."""

    engagement = models.ForeignKey(Engagement, on_delete=models.PROTECT, related_name="engagement_partners")
    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="engagements")
    role = models.CharField(max_length=20, choices=PartnerRole.choices)
    contract_start = models.DateField(validators=[validate_plausible_date])
    contract_end = models.DateField(
        help_text="The contract's last day; access granted ends with it.",
        validators=[validate_plausible_date],
    )
    territory = models.CharField(max_length=100, blank=True, help_text="e.g. Europe, when split by region.")
    business_function = models.CharField(
        max_length=100, blank=True, help_text="e.g. Finance, when split by business function."
    )
    replaced_by = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="replaces",
        help_text="The partner that took over this contract.",
    )
    ended_reason = models.TextField(blank=True, help_text="Why the contract ended early.")
    ended_before_start = models.BooleanField(
        default=False,
        help_text="Ended (replaced, ended early by the customer, or its engagement cancelled) before its "
        "first day: it never ran, though its last day then reads as its first.",
    )
    ended_by_cancellation = models.BooleanField(
        default=False,
        help_text="Ended by its engagement's cancellation, in force until then (not one ended early "
        "before it): its partner keeps the cancelled engagement in its history.",
    )
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        verbose_name = "engagement partner"
        ordering = ["engagement", "role", "contract_start", "id"]
        constraints = [
            # The end date is the contract's last day, so a one-day contract ends on the day it starts.
            models.CheckConstraint(
                condition=Q(contract_end__gte=F("contract_start")),
                name="engagement_partner_contract_ends_after_start",
                violation_error_message="A contract cannot end before it starts.",
            ),
            models.UniqueConstraint(
                fields=["engagement", "partner", "role"],
                condition=Q(replaced_by__isnull=True),
                name="engagement_partner_once_per_role",
                violation_error_message="This partner already has this role in the engagement.",
            ),
            models.CheckConstraint(
                condition=Q(replaced_by__isnull=True) | ~Q(ended_reason=""),
                name="engagement_partner_replacement_has_reason",
                violation_error_message="Say why the partner was replaced.",
            ),
            models.CheckConstraint(
                condition=~Q(replaced_by=F("pk")),
                name="engagement_partner_not_replaced_by_itself",
                violation_error_message="A partner cannot replace itself.",
            ),
        ]

    def __str__(self):
        return f"{self.partner} as {self.get_role_display()} on {self.engagement}"

    @property
    def is_replaced(self) -> bool:
        return self.replaced_by_id is not None

    @property
    def is_ended_early(self) -> bool:
        """Replaced, ended early by the customer, or ended with its engagement's cancellation: over
        whatever its dates say, so one ended before it started (its last day is then its first) is never in
        force on that day."""
        return self.is_replaced or bool(self.ended_reason)

    def in_force_on(self, day: datetime.date) -> bool:
        return not self.is_ended_early and self.contract_start <= day <= self.contract_end

    def clean(self):
        if self.partner_id is None or not self.role:
            return
        if self.pk is not None:
            stored = type(self).objects.filter(pk=self.pk).values_list("partner_id", "role").first()
            if stored == (self.partner_id, self.role):
                # Asked when the partner took the role: a program it has left since does not end the
                # contract, nor stop its territory or business function being corrected.
                return
        from engagements.selectors import partner_role_problem

        problem = partner_role_problem(self.partner, self.role)
        if problem:
            raise ValidationError({"role": problem})


class TeamMember(TimeStampedModel):
    """Somebody on the project team: a portal user, or a named person who does not sign in."""

    engagement = models.ForeignKey(Engagement, on_delete=models.CASCADE, related_name="team_members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="engagement_memberships",
    )
    name = models.CharField(max_length=150, blank=True, help_text="For somebody without a portal account.")
    email = models.EmailField(blank=True)
    role = models.CharField(max_length=30, choices=TeamRole.choices)
    joined_on = models.DateField(default=datetime.date.today)
    left_on = models.DateField(null=True, blank=True)
    note = models.CharField(max_length=200, blank=True, help_text="e.g. 'came with Enterprise Support'.")
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["engagement", "role", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=False) | ~Q(name=""),
                name="team_member_is_someone",
                violation_error_message="A team member is a portal user or a named person.",
            ),
            models.UniqueConstraint(
                fields=["engagement", "user", "role"],
                condition=Q(user__isnull=False, left_on__isnull=True),
                name="team_member_once_per_role",
                violation_error_message="This person already has this role on the team.",
            ),
            models.CheckConstraint(
                condition=Q(left_on__isnull=True) | Q(left_on__gte=F("joined_on")),
                name="team_member_leaves_after_joining",
                violation_error_message="A team member cannot leave before joining.",
            ),
        ]

    def __str__(self):
        return f"{self.display_name}, {self.get_role_display()}"

    @property
    def display_name(self) -> str:
        if self.user_id is not None:
            return str(self.user)
        return self.name


class AccessGrant(TimeStampedModel):
    """One customer account delegated to one engaged partner through an IAM role, for a while."""

    account = models.ForeignKey(AwsAccount, on_delete=models.PROTECT, related_name="access_grants")
    engagement_partner = models.ForeignKey(
        EngagementPartner, on_delete=models.PROTECT, related_name="access_grants"
    )
    role_name = models.CharField(max_length=64, validators=[validate_role_name])
    role_arn = models.CharField("role ARN", max_length=300, validators=[validate_role_arn])
    scope = models.CharField(max_length=20, choices=AccessScope.choices)
    mfa_required = models.BooleanField(
        "customer MFA required",
        default=True,
        help_text="Security-relevant changes need an MFA token from the customer.",
    )
    granted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    granted_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(
        db_index=True,
        help_text="Never after the partner's contract ends.",
        validators=[validate_plausible_date],
    )
    # Recorded when the grant is made, not guessed from `expires_at` later: 00:00 local may be an exact
    # moment chosen through the API, and a day may end at 01:00 where clocks skip midnight.
    last_day = models.DateField(
        "last day of access",
        null=True,
        blank=True,
        help_text="Access to the end of this day in the customer's time zone, which moves with it. "
        "Empty for access until an exact moment.",
    )
    # When and why the access ended, whichever way: revoked, or recorded as expired (then `expired`).
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Who cut the access short; empty for a grant that expired.",
    )
    revocation_reason = models.TextField(blank=True)
    # Stored, not read from an empty `revoked_by`: ran out and cut short stay told apart for good, even
    # should something other than a person ever revoke.
    expired = models.BooleanField(
        default=False,
        help_text="It ran out (its end or its contract's last day passed) and the scheduled check recorded "
        "it, dated when it ended; nobody revoked it.",
    )
    # As SupportCase.submission_key: one submit of the grant form is one grant (apn_portal.forms).
    submission_key = models.CharField(max_length=64, null=True, blank=True, unique=True, editable=False)
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["account", "-granted_at", "id"]
        indexes = [
            models.Index(fields=["engagement_partner", "revoked_at"], name="grant_partner_revoked_idx")
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(role_name__regex=ROLE_NAME_PATTERN),
                name="access_grant_role_name_valid",
                violation_error_message=ROLE_NAME_MESSAGE,
            ),
            models.CheckConstraint(
                condition=Q(role_arn__regex=ROLE_ARN_PATTERN)
                & Q(role_arn__endswith=Concat(models.Value("/"), F("role_name"))),
                name="access_grant_role_arn_valid",
                violation_error_message=ROLE_ARN_MESSAGE + " Its last part is the role name.",
            ),
            models.CheckConstraint(
                condition=Q(expires_at__gt=F("granted_at")),
                name="access_grant_expires_after_granted",
                violation_error_message="A grant must expire after it is granted.",
            ),
            models.CheckConstraint(
                condition=(Q(revoked_at__isnull=True) & Q(revoked_by__isnull=True) & Q(revocation_reason=""))
                | (Q(revoked_at__isnull=False) & ~Q(revocation_reason="")),
                name="access_grant_revocation_complete",
                violation_error_message="A revocation records when and why (and who, for a person).",
            ),
            models.CheckConstraint(
                condition=Q(expired=False) | Q(revoked_at=F("expires_at"), revoked_by__isnull=True),
                name="access_grant_expired_at_its_end",
                violation_error_message="An expired grant ended at its end, by nobody's hand.",
            ),
            models.CheckConstraint(
                condition=Q(revoked_at__isnull=True) | Q(revoked_at__gte=F("granted_at")),
                name="access_grant_revoked_after_granted",
                violation_error_message="A grant cannot be revoked before it was granted.",
            ),
            # The customer keeps control: full administration never works without the customer's token.
            models.CheckConstraint(
                condition=~Q(scope=AccessScope.ADMINISTRATION) | Q(mfa_required=True),
                name="access_grant_administration_needs_mfa",
                violation_error_message="Administration access always requires the customer's MFA token.",
            ),
            models.UniqueConstraint(
                fields=["account", "engagement_partner", "role_name"],
                condition=Q(revoked_at__isnull=True),
                name="access_grant_one_live_per_role",
                violation_error_message="This partner already holds this role on this account.",
            ),
        ]

    def __str__(self):
        return f"{self.role_name} on {self.account.account_id}"

    @property
    def ends_in_words(self) -> str:
        """When its access ends (or was to end), on its customer's clock: see access_end_in_words."""
        return access_end_in_words(self.expires_at, self.last_day, self.account.customer.time_zone)

    @property
    def is_revoked(self) -> bool:
        """Cut short, rather than expired."""
        return self.revoked_at is not None and not self.expired

    def is_live(self, at: datetime.datetime | None = None) -> bool:
        at = at or timezone.now()
        return self.revoked_at is None and self.granted_at <= at < self.expires_at

    @property
    def state(self) -> AccessGrantState:
        """As engagements.selectors.access_grants_in_state files it: past its end it is expired, before the
        hourly check records it and after."""
        if self.is_revoked:
            return AccessGrantState.REVOKED
        if self.expired or self.expires_at <= timezone.now():
            return AccessGrantState.EXPIRED
        return AccessGrantState.LIVE

    def clean(self):
        errors = {}
        account = self.account if self.account_id else None
        engaged = self.engagement_partner if self.engagement_partner_id else None
        if account is not None and self.role_arn:
            problem = role_arn_problem(self.role_arn, account.account_id, self.role_name)
            if problem:
                errors["role_arn"] = problem
        if account is not None and engaged is not None:
            if engaged.engagement.customer_id != account.customer_id:
                errors["account"] = (
                    f"Account {account.account_id} belongs to {account.customer}, not to "
                    f"{engaged.engagement.customer}, whose engagement {engaged.partner} is on."
                )
            elif self.expires_at and self.revoked_at is None:
                deadline = access_deadline(engaged.contract_end, engaged.engagement.customer.time_zone)
                if self.expires_at > deadline:
                    errors["expires_at"] = (
                        f"{engaged.partner}'s contract ends on {engaged.contract_end:%d %b %Y}; "
                        "the grant cannot last longer."
                    )
        if errors:
            raise ValidationError(errors)


class ProfessionalServicesEngagement(TimeStampedModel):
    """Provider Professional Services bought to fill a named capability gap for one project goal."""

    engagement = models.ForeignKey(Engagement, on_delete=models.CASCADE, related_name="professional_services")
    bought_by = models.CharField(max_length=20, choices=ServicesBuyer.choices)
    buying_partner = models.ForeignKey(
        "partners.Partner",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="professional_services_bought",
        help_text="The partner that pays, when a partner buys.",
    )
    goal = models.TextField(help_text="The specific project goal.")
    capability_gap = models.TextField(help_text="What the project team lacks that this fills.")
    consultant = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="professional_services_assignments",
        limit_choices_to={"is_staff": True},
    )
    starts_on = models.DateField()
    ends_on = models.DateField(null=True, blank=True)
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        verbose_name = "Professional Services engagement"
        ordering = ["engagement", "starts_on", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(bought_by=ServicesBuyer.PARTNER) & Q(buying_partner__isnull=False))
                | (~Q(bought_by=ServicesBuyer.PARTNER) & Q(buying_partner__isnull=True)),
                name="professional_services_partner_iff_partner_buys",
                violation_error_message="Name the buying partner when a partner buys, and only then.",
            ),
            models.CheckConstraint(
                condition=Q(ends_on__isnull=True) | Q(ends_on__gte=F("starts_on")),
                name="professional_services_ends_after_start",
                violation_error_message="Professional Services cannot end before they start.",
            ),
            models.CheckConstraint(
                condition=~Q(goal="") & ~Q(capability_gap=""),
                name="professional_services_goal_and_gap",
                violation_error_message="Say which project goal it serves and which capability gap it fills.",
            ),
        ]

    def __str__(self):
        return f"Professional Services for {self.engagement}"


class MarketplaceSubscription(TimeStampedModel):
    """Software from a technology partner, bought through the marketplace for an engagement's accounts."""

    engagement = models.ForeignKey(
        Engagement, on_delete=models.CASCADE, related_name="marketplace_subscriptions"
    )
    product = models.CharField(max_length=200)
    vendor = models.ForeignKey(
        "partners.Partner",
        on_delete=models.PROTECT,
        related_name="marketplace_subscriptions",
        limit_choices_to={"partner_type": "technology"},
    )
    accounts = models.ManyToManyField(AwsAccount, related_name="marketplace_subscriptions")
    subscribed_on = models.DateField(default=datetime.date.today)
    subscribed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The accounts are recorded with every version, so the history shows who added or took one off.
    history = HistoricalRecords(excluded_fields=["updated_at"], m2m_fields=[accounts])

    class Meta:
        ordering = ["engagement", "subscribed_on", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["engagement", "vendor", "product"],
                name="marketplace_subscription_once_per_product",
                violation_error_message="The engagement already subscribes to this product.",
            ),
        ]

    def __str__(self):
        return f"{self.product} ({self.vendor})"
