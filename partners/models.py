import dataclasses
import datetime
import json
import posixpath
import re
import secrets
import unicodedata
import zoneinfo

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.search import SearchVectorField
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models
from django.db.models import F, Q
from django.db.models.fields.files import FieldFile
from django.db.models.functions import Lower
from django.utils import timezone
from django_countries.fields import CountryField
from PIL import Image
from simple_history.models import HistoricalRecords

from apn_portal.accounts.choices import StaffRole
from apn_portal.accounts.models import role_holders_condition
from apn_portal.dates import validate_not_too_early, validate_plausible_date
from apn_portal.fields import LowercaseSlugField
from apn_portal.models import TimeStampedModel
from partners.choices import (
    LIVE_ENROLLMENT_STATUSES,
    AuditResult,
    CertificationLevel,
    CompetencyCategory,
    ContactRequestStatus,
    EnrollmentStatus,
    PartnerType,
    ProfileChangeStatus,
    ProgramKind,
    ProjectSize,
    ProjectTimeline,
    RequirementMetric,
    TierChangeSource,
)

# The first place on Earth where a day begins (UTC+14).
EARLIEST_TIME_ZONE = zoneinfo.ZoneInfo("Pacific/Kiritimati")


def latest_today() -> datetime.date:
    """Today where it is latest: a day that has begun anywhere on Earth is not the future, since partners
    and PDMs work in every time zone."""
    return timezone.localdate(timezone=EARLIEST_TIME_ZONE)


def validate_not_in_future(value: datetime.date) -> None:
    """For a day something already happened (a certification earned, a project launched): the admin, the
    API and the CSV import all refuse a later one with this message, since it would count before it is
    true. Partners work in every time zone, so a day that has begun anywhere on Earth is not the future."""
    if value > latest_today():
        raise ValidationError(
            "Give a date no later than today (this one is in the future).", code="date_in_future"
        )
    validate_not_too_early(value)


# What a partner's logo may be: what every browser shows in an <img> (Pillow's names), small enough to serve
# on every card.
LOGO_FORMATS = ("PNG", "JPEG", "GIF", "WEBP")
LOGO_CONTENT_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
# The extension a logo is stored under, by what it holds: the portal serves it as the image type that
# extension names (apn_portal/media.py), and nothing under another name.
LOGO_EXTENSIONS = {"PNG": ".png", "JPEG": ".jpg", "GIF": ".gif", "WEBP": ".webp"}
LOGO_MAX_BYTES = 2 * 1024 * 1024
LOGO_MAX_SIDE = 4096


def validate_partner_logo(value) -> None:
    """For a partner's logo, from the admin or any other form: a whole PNG, JPEG, GIF or WebP image (by
    what the file holds, not its name; every pixel there), at most LOGO_MAX_BYTES and LOGO_MAX_SIDE pixels
    a side."""
    if isinstance(value, FieldFile) and value._committed:
        # The logo already stored, checked when it was uploaded: a later edit of the partner neither reads
        # it back from storage nor fails on one stored before these limits.
        return
    if not hasattr(value, "read"):
        return  # a history row's copy of the field holds only the file's name
    if value.size > LOGO_MAX_BYTES:
        raise ValidationError(
            f"The logo is larger than {LOGO_MAX_BYTES // (1024 * 1024)} MB: upload a smaller image.",
            code="logo_too_big",
        )
    too_many_pixels = ValidationError(
        f"The logo is larger than {LOGO_MAX_SIDE} by {LOGO_MAX_SIDE} pixels: upload a smaller image.",
        code="logo_too_many_pixels",
    )
    position = value.tell()
    value.seek(0)
    try:
        # Pillow reads the header only; the pixels are read only once the size is known to be small.
        with Image.open(value, formats=LOGO_FORMATS) as image:
            width, height = image.size
            small_enough = width <= LOGO_MAX_SIDE and height <= LOGO_MAX_SIDE
            if small_enough:
                image.verify()  # a PNG's checksums
        if small_enough:
            # Decoded in full, from a fresh start (`verify` leaves the image unusable): `verify` checks
            # nothing past a JPEG's or GIF's header, and one cut short (an interrupted download) shows
            # broken on every card. Pillow refuses it since LOAD_TRUNCATED_IMAGES is off, as it is.
            value.seek(0)
            with Image.open(value, formats=LOGO_FORMATS) as image:
                image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # Far above our limit: twice Pillow's raises; above it Pillow warns, which raises where warnings
        # are errors and otherwise leaves the size to the check below.
        raise too_many_pixels from None
    except Exception:
        raise ValidationError(
            "Upload the logo as a PNG, JPEG, GIF or WebP image; this file is not one, or is damaged.",
            code="logo_format",
        ) from None
    finally:
        value.seek(position)
    if not small_enough:
        raise too_many_pixels


def partner_logo_name(name: str, image_format: str) -> str:
    """The name a logo uploaded as `name` is stored under: its own, with the extension of the image it
    holds (`image_format`, Pillow's name, one of LOGO_FORMATS), whatever extension it came with, so a PNG
    uploaded as "logo.pdf" is stored, and served, as "logo.png"."""
    stem = posixpath.splitext(posixpath.basename(name))[0] or "logo"
    return f"{stem}{LOGO_EXTENSIONS[image_format]}"


class Taxonomy(TimeStampedModel):
    """A small, PDM-maintained list of terms that partners are tagged with and customers filter on."""

    name = models.CharField(max_length=100, unique=True)
    slug = LowercaseSlugField(max_length=100, unique=True)

    class Meta:
        abstract = True
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(slug=Lower("slug")),
                name="%(app_label)s_%(class)s_slug_lowercase",
                violation_error_message="A slug is written in lower case.",
            ),
        ]

    def __str__(self):
        return self.name


class ConsultingCategory(Taxonomy):
    """System integrator, strategic consultancy, agency, MSP, value-added reseller (several allowed)."""

    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta(Taxonomy.Meta):
        verbose_name_plural = "consulting categories"


class Industry(Taxonomy):
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta(Taxonomy.Meta):
        verbose_name_plural = "industries"


class UseCase(Taxonomy):
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta(Taxonomy.Meta):
        verbose_name = "use case"


class Tier(TimeStampedModel):
    """One rung of a partner type's ladder. What it requires is in its TierRequirement rows."""

    partner_type = models.CharField(max_length=20, choices=PartnerType.choices)
    name = models.CharField(max_length=50)
    slug = LowercaseSlugField(max_length=50)
    rank = models.PositiveSmallIntegerField(help_text="0 is the entry tier; higher is better.")
    description = models.TextField(blank=True)
    grace_period_days = models.PositiveSmallIntegerField(
        default=90, help_text="Days a partner that falls short of this tier keeps it before demotion."
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["partner_type", "rank"]
        constraints = [
            models.UniqueConstraint(
                fields=["partner_type", "rank"],
                name="tier_unique_rank_per_type",
                violation_error_message="This partner type already has a tier at that rank.",
            ),
            models.UniqueConstraint(
                fields=["partner_type", "slug"],
                name="tier_unique_slug_per_type",
                violation_error_message="This partner type already has a tier with that slug.",
            ),
            models.CheckConstraint(
                condition=Q(slug=Lower("slug")),
                name="tier_slug_lowercase",
                violation_error_message="A slug is written in lower case.",
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.get_partner_type_display()})"

    def is_entry_tier(self) -> bool:
        """Whether this is the lowest rung of its partner type's ladder, with its rank and type as they are
        now set (a form's, not yet saved): the tier every partner holds on joining."""
        if self.rank is None or not self.partner_type:
            return False
        return not (
            Tier.objects.filter(partner_type=self.partner_type, rank__lt=self.rank)
            .exclude(pk=self.pk)
            .exists()
        )

    def clean(self):
        if self.pk is None or self.rank is None:
            return
        old = Tier.objects.filter(pk=self.pk).values("partner_type", "rank").first()
        if old is None:
            return
        if self.partner_type and self.partner_type != old["partner_type"]:
            # What refers to a tier was decided on its ladder: a partner would hold a tier of the other
            # type's ladder (its evaluation, the search and the API all assume its own), its history and a
            # program's minimum would name one, its requirements count what the other type is asked.
            uses = []
            if Partner.objects.filter(Q(tier=self.pk) | Q(qualifies_for_tier=self.pk)).exists():
                uses.append("partners hold it or qualify for it")
            if TierChange.objects.filter(Q(from_tier=self.pk) | Q(to_tier=self.pk)).exists():
                uses.append("partners' tier history names it")
            if Program.objects.filter(minimum_tier=self.pk).exists():
                uses.append("a program asks for it as its minimum tier")
            if TierRequirement.objects.filter(tier=self.pk).exists():
                uses.append("it has requirements")
            if uses:
                listed = ", ".join(uses[:-1]) + " and " + uses[-1] if len(uses) > 1 else uses[0]
                labels = dict(PartnerType.choices)
                raise ValidationError(
                    {
                        "partner_type": f"This tier stays on the {labels[old['partner_type']]} ladder: "
                        f"{listed}. Add a new tier to the "
                        f"{labels.get(self.partner_type, self.partner_type)} ladder instead."
                    }
                )
        # Moving the entry tier up its ladder, or to the other ladder, makes the rung above it the entry
        # tier, which must not have requirements (TierRequirement.clean). A tier that becomes the entry
        # tier itself has its requirements checked by the requirement rows of the same form.
        others = Tier.objects.filter(partner_type=old["partner_type"]).exclude(pk=self.pk)
        if others.filter(rank__lt=old["rank"]).exists():
            return  # it was not the entry tier
        if old["partner_type"] == self.partner_type and not others.filter(rank__lt=self.rank).exists():
            return  # it still is
        successor = others.order_by("rank").first()
        if successor is not None and successor.requirements.exists():
            raise ValidationError(
                {
                    "rank": f"{successor.name} would become the entry tier of its ladder, which every "
                    "partner holds on joining and which cannot have requirements: delete its requirements "
                    "first."
                }
            )


ENTRY_TIER_REQUIREMENT_REFUSED = (
    "{tier} is the entry tier of its ladder: every partner holds it on joining, so it cannot have "
    "requirements. Put them on a higher tier."
)


class TierRequirement(TimeStampedModel):
    tier = models.ForeignKey(Tier, on_delete=models.CASCADE, related_name="requirements")
    metric = models.CharField(max_length=40, choices=RequirementMetric.choices)
    minimum = models.PositiveIntegerField()
    history = HistoricalRecords()

    class Meta:
        ordering = ["tier", "metric"]
        constraints = [
            models.UniqueConstraint(
                fields=["tier", "metric"],
                name="tier_requirement_unique_metric",
                violation_error_message="This tier already has a requirement on that measure.",
            ),
            models.CheckConstraint(
                condition=Q(minimum__gt=0),
                name="tier_requirement_minimum_positive",
                violation_error_message=(
                    "A requirement's minimum must be at least 1; delete it to require nothing."
                ),
            ),
        ]

    def __str__(self):
        return f"{self.tier}: {self.minimum} {self.get_metric_display()}"

    def clean(self):
        # Evaluation never tests the entry rung (partners.selectors.tier_hold_minimums): a requirement on it
        # would change nothing but read as one the partner lacks.
        try:
            tier = self.tier  # in the tier's admin, its inline forms carry the tier as edited
        except Tier.DoesNotExist:
            return
        if tier.is_entry_tier():
            raise ValidationError(ENTRY_TIER_REQUIREMENT_REFUSED.format(tier=tier.name), code="entry_tier")


class Partner(TimeStampedModel):
    # Indexed with `id` below (the API's sync order), not alone.
    updated_at = models.DateTimeField(auto_now=True)
    name = models.CharField(max_length=200, db_index=True)
    slug = models.SlugField(
        max_length=200,
        unique=True,
        error_messages={"unique": "Another partner already uses this slug; choose a different one."},
    )
    partner_type = models.CharField(max_length=20, choices=PartnerType.choices, db_index=True)
    tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="partners")
    categories = models.ManyToManyField(
        ConsultingCategory, blank=True, related_name="partners", help_text="Consulting partners only."
    )
    description = models.TextField(blank=True)
    website = models.URLField(blank=True)
    logo = models.ImageField(upload_to="partner-logos/", blank=True, validators=[validate_partner_logo])
    industries = models.ManyToManyField(Industry, blank=True, related_name="partners")
    use_cases = models.ManyToManyField(UseCase, blank=True, related_name="partners")
    is_published = models.BooleanField(
        "published", default=False, db_index=True, help_text="Shown on the public Find-a-Partner page."
    )
    pdm = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="PDM",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="managed_partners",
        # Only a current PDM is offered and accepted: one who left the provider or lost the role, or was
        # deactivated, is not (their own record keeps them in the PDM group).
        limit_choices_to=role_holders_condition(StaffRole.PDM),
        help_text="The Partner Development Manager who keeps this record.",
    )
    # Tier health, kept by the scheduled check (partners/checks/tier_health.py); nobody edits these.
    grace_started_on = models.DateField(
        null=True, blank=True, editable=False, help_text="When the partner fell short of its tier."
    )
    grace_ends_on = models.DateField(
        null=True,
        blank=True,
        editable=False,
        help_text="If still short of its tier on this day, the partner is demoted.",
    )
    at_risk_from = models.DateField(
        "at risk from",
        null=True,
        blank=True,
        editable=False,
        db_index=True,
        help_text="The day the partner falls short of its tier if no certification or program is renewed.",
    )
    qualifies_for_tier = models.ForeignKey(
        Tier,
        null=True,
        blank=True,
        editable=False,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="A higher tier the partner's evidence qualifies it for: its PDM decides on a promotion.",
    )
    # The tag lists are recorded with every version, so the history shows who added or removed a tag. Each
    # version copies them (a few rows): the scheduled checks write partners in bulk, and copy them in bulk
    # too (partners.services.partner_history_bulk_create).
    history = HistoricalRecords(
        excluded_fields=["updated_at"], m2m_fields=[categories, industries, use_cases]
    )

    class Meta:
        ordering = ["name", "id"]
        indexes = [
            models.Index(fields=["tier", "name"], name="partner_tier_name_idx"),
            # Integrators sync in (updated_at, id) order, and a bulk change gives thousands of rows one
            # updated_at: with `id` in the index a page is a range scan, not a sort of every tied row.
            models.Index(fields=["updated_at", "id"], name="partner_sync_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(Q(grace_started_on__isnull=True) & Q(grace_ends_on__isnull=True))
                | Q(grace_ends_on__gte=F("grace_started_on")),
                name="partner_grace_period_complete",
                violation_error_message="A grace period has a start and an end no earlier, or neither.",
            ),
        ]

    def __str__(self):
        return self.name


def partner_name_of(record) -> str:
    """The name of a record's partner, or "deleted partner": a history page shows old versions of records
    whose partner has since been deleted."""
    try:
        return str(record.partner)
    except Partner.DoesNotExist:
        return "deleted partner"


class Office(TimeStampedModel):
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="offices")
    country = CountryField(db_index=True)
    city = models.CharField(max_length=100)
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    is_headquarters = models.BooleanField("headquarters", default=False)
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["-is_headquarters", "country", "city", "id"]
        # Find-a-Partner's near search narrows offices to a bounding box on this index before any distance.
        indexes = [models.Index(fields=["latitude", "longitude"], name="office_lat_long_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["partner"],
                condition=Q(is_headquarters=True),
                name="office_one_headquarters_per_partner",
                violation_error_message="A partner has one headquarters; unmark the current one first.",
            ),
            models.CheckConstraint(
                # The "both given" branch names isnull=False: a NULL comparison would let one coordinate
                # alone pass, since a CHECK whose result is NULL is not a violation.
                condition=(Q(latitude__isnull=True) & Q(longitude__isnull=True))
                | (
                    Q(latitude__isnull=False, longitude__isnull=False)
                    & Q(latitude__gte=-90, latitude__lte=90)
                    & Q(longitude__gte=-180, longitude__lte=180)
                ),
                name="office_coordinates_valid",
                violation_error_message=(
                    "Give both latitude (-90 to 90) and longitude (-180 to 180), or neither."
                ),
            ),
        ]

    def __str__(self):
        return f"{self.city}, {self.country.name}"


class Program(TimeStampedModel):
    """A partner program (specialization): a competency, the MSP program, the Solution Provider program..."""

    name = models.CharField(max_length=150, unique=True)
    slug = LowercaseSlugField(max_length=150, unique=True)
    kind = models.CharField(max_length=20, choices=ProgramKind.choices)
    competency_category = models.CharField(max_length=20, choices=CompetencyCategory.choices, blank=True)
    partner_type = models.CharField(
        max_length=20, choices=PartnerType.choices, blank=True, help_text="Blank: open to both types."
    )
    description = models.TextField(blank=True)
    audit_required = models.BooleanField(default=False, help_text="Needs a third-party audit to be approved.")
    minimum_tier = models.ForeignKey(
        Tier,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The lowest tier (by rank) a partner must hold to enroll.",
    )
    # When the minimum tier was last raised, as the admin shows it (empty when the program has had its
    # minimum from the start, or lowered it last). Whom a raise left short, and from when, each enrollment
    # keeps (ProgramEnrollment.minimum_tier_short_from).
    minimum_tier_since = models.DateTimeField("minimum tier raised", null=True, blank=True, editable=False)
    validity_months = models.PositiveSmallIntegerField(default=36)
    qualifies_for_tier = models.BooleanField(
        "qualifying for the top tier",
        default=False,
        help_text="Counts as the MSP-or-equivalent validation the top consulting tier asks for.",
    )
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind=ProgramKind.COMPETENCY) & ~Q(competency_category=""))
                | (~Q(kind=ProgramKind.COMPETENCY) & Q(competency_category="")),
                name="program_category_only_for_competency",
                violation_error_message="A competency needs a category; other programs have none.",
            ),
            models.CheckConstraint(
                condition=Q(validity_months__gt=0),
                name="program_validity_positive",
                violation_error_message="A program's validity must be at least one month.",
            ),
            models.CheckConstraint(
                condition=Q(slug=Lower("slug")),
                name="program_slug_lowercase",
                violation_error_message="A slug is written in lower case.",
            ),
        ]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        update_fields = kwargs.get("update_fields")
        if not self._state.adding and (update_fields is None or "minimum_tier" in update_fields):
            stored_id, stored_rank = (
                Program.objects.filter(pk=self.pk)
                .values_list("minimum_tier_id", "minimum_tier__rank")
                .first()
            )
            if self.minimum_tier_id != stored_id:
                rank = self.minimum_tier.rank if self.minimum_tier_id else None
                raised = rank is not None and (stored_rank is None or rank > stored_rank)
                self.minimum_tier_since = timezone.now() if raised else None
                if update_fields is not None:
                    kwargs["update_fields"] = {*update_fields, "minimum_tier_since"}
        super().save(*args, **kwargs)


class ProgramEnrollment(TimeStampedModel):
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="enrollments")
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="enrollments")
    status = models.CharField(
        max_length=20, choices=EnrollmentStatus.choices, default=EnrollmentStatus.APPLIED, db_index=True
    )
    applied_on = models.DateField(default=datetime.date.today)
    audit_date = models.DateField(null=True, blank=True)
    audit_result = models.CharField(max_length=10, choices=AuditResult.choices, blank=True)
    approved_on = models.DateField(null=True, blank=True, validators=[validate_plausible_date])
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    expires_on = models.DateField(null=True, blank=True, db_index=True, validators=[validate_plausible_date])
    # The renewal asks for an audit held after this one: a new audit recorded since the approval is told
    # from the one the approval stood on (even one dated after an approval backdated before the rule).
    approval_audit_date = models.DateField(
        "audit approved on",
        null=True,
        blank=True,
        editable=False,
        help_text="The audit the current approval or renewal stands on; set by approving and renewing.",
    )
    status_reason = models.TextField(blank=True, help_text="Why it was revoked or expired.")
    # The day a change of the program's minimum tier or of the partner's ladder (a rung's rank or slug)
    # left the partner below the minimum, which its grace period counts from, rather than from a tier
    # change made before; the countdown it already had when short before the change. Kept by
    # partners.signals.minimum_tier_standing_change; empty when no such change left it short.
    minimum_tier_short_from = models.DateField(null=True, blank=True, editable=False)
    history = HistoricalRecords(excluded_fields=["updated_at", "minimum_tier_short_from"])

    class Meta:
        ordering = ["partner", "program", "-applied_on", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "program"],
                condition=Q(status__in=LIVE_ENROLLMENT_STATUSES),
                name="enrollment_one_live_per_program",
                violation_error_message=(
                    "This partner already has an open or approved enrollment in this program."
                ),
            ),
            models.CheckConstraint(
                condition=~Q(status=EnrollmentStatus.APPROVED)
                | (Q(approved_on__isnull=False) & Q(expires_on__isnull=False)),
                name="enrollment_approved_has_dates",
                violation_error_message="An approved enrollment needs its approval and expiry dates.",
            ),
            models.CheckConstraint(
                condition=Q(expires_on__isnull=True)
                | Q(approved_on__isnull=True)
                | Q(expires_on__gt=F("approved_on")),
                name="enrollment_expires_after_approval",
                violation_error_message="An enrollment must expire after it was approved.",
            ),
            models.CheckConstraint(
                condition=Q(audit_result="") | Q(audit_date__isnull=False),
                name="enrollment_audit_result_has_date",
                violation_error_message="An audit result needs the audit's date.",
            ),
        ]

    def __str__(self):
        return f"{partner_name_of(self)} in {self.program} ({self.get_status_display()})"


EMAIL_TAKEN = "email_taken"


class StaffMember(TimeStampedModel):
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="staff_members")
    full_name = models.CharField(max_length=150)
    email = models.EmailField(blank=True)
    job_title = models.CharField(max_length=150, blank=True)
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["partner", "full_name", "id"]
        constraints = [
            # Whatever its letters' case: an address is one person's (the certification import looks people
            # up by it so), and two records of one person would count twice toward a tier.
            models.UniqueConstraint(
                "partner",
                Lower("email"),
                condition=~Q(email=""),
                name="staff_member_unique_email_per_partner_any_case",
                violation_error_code=EMAIL_TAKEN,
                violation_error_message="This partner already has a staff member with that email address.",
            ),
        ]

    def __str__(self):
        return self.full_name

    def validate_constraints(self, exclude=None):
        try:
            super().validate_constraints(exclude=exclude)
        except ValidationError as error:
            # A constraint on an expression (the address in lower case) names no field: it is the email's.
            errors = error.update_error_dict({})
            taken = [e for e in errors.get(NON_FIELD_ERRORS, []) if getattr(e, "code", None) == EMAIL_TAKEN]
            if taken:
                errors[NON_FIELD_ERRORS] = [e for e in errors[NON_FIELD_ERRORS] if e not in taken]
                errors.setdefault("email", []).extend(taken)
                errors = {field: messages for field, messages in errors.items() if messages}
            raise ValidationError(errors) from None


def certification_default_expiry(earned_on: datetime.date) -> datetime.date:
    """Certifications are valid for three years from the day they were earned, unless given otherwise."""
    years = settings.CERTIFICATION_DEFAULT_VALIDITY_YEARS
    try:
        return earned_on.replace(year=earned_on.year + years)
    except ValueError:  # earned on 29 February
        return earned_on.replace(year=earned_on.year + years, day=28)


class Certification(TimeStampedModel):
    # Indexed with `id` below (the API's sync order), not alone.
    updated_at = models.DateTimeField(auto_now=True)
    staff_member = models.ForeignKey(StaffMember, on_delete=models.CASCADE, related_name="certifications")
    name = models.CharField(max_length=150, help_text="For example: Solutions Architect - Associate.")
    level = models.CharField(max_length=20, choices=CertificationLevel.choices)
    credential_id = models.CharField(max_length=100, blank=True)
    earned_on = models.DateField(validators=[validate_not_in_future])
    expires_on = models.DateField(
        blank=True, help_text="Three years after earning unless given.", validators=[validate_plausible_date]
    )
    last_reminder_days = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        editable=False,
        help_text="The tightest expiry reminder sent so far (90, 30 or 7 days before); cleared on renewal.",
    )
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["expires_on", "id"]
        indexes = [
            models.Index(fields=["staff_member", "expires_on"], name="cert_staff_expiry_idx"),
            # See Partner: a million certifications, often changed in bulk by the expiry check.
            models.Index(fields=["updated_at", "id"], name="certification_sync_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_on__gt=F("earned_on")),
                name="certification_expires_after_earned",
                violation_error_message="A certification must expire after the day it was earned.",
            ),
            models.UniqueConstraint(
                fields=["credential_id"],
                condition=~Q(credential_id=""),
                name="certification_unique_credential_id",
                violation_error_message="Another certification already has this credential id.",
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.get_level_display()})"

    def save(self, *args, **kwargs):
        if self.expires_on is None and self.earned_on is not None:
            self.expires_on = certification_default_expiry(self.earned_on)
        super().save(*args, **kwargs)

    def clean(self):
        # A day in the future is refused by earned_on's own validator (which runs before clean() but does
        # not stop it), and one near the calendar's end has no day three years on: no default from either.
        if self.expires_on is None and self.earned_on is not None and self.earned_on <= latest_today():
            self.expires_on = certification_default_expiry(self.earned_on)


class CustomerReference(TimeStampedModel):
    """A launched customer project; once a PDM validates it, it counts toward the partner's tier."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="references")
    customer_name = models.CharField(max_length=200)
    summary = models.TextField()
    services_used = models.CharField(max_length=300, blank=True, help_text="Comma-separated.")
    launched_on = models.DateField(validators=[validate_not_in_future])
    is_validated = models.BooleanField("validated", default=False)
    validated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    validated_at = models.DateTimeField(null=True, blank=True)
    is_public = models.BooleanField("public", default=False)
    # The digest of the partner area's form submit that registered it (partners.services_records.
    # reference_submit): unique, so a form sent twice is one reference, one email, one project counted.
    submission_key = models.CharField(max_length=64, null=True, blank=True, unique=True, editable=False)
    # Who validated a reference, or withdrew its validation (which clears validated_by), and when.
    history = HistoricalRecords(excluded_fields=["updated_at", "submission_key"])

    class Meta:
        ordering = ["-launched_on", "id"]
        indexes = [models.Index(fields=["partner", "is_validated"], name="reference_partner_valid_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(is_validated=False) | Q(validated_at__isnull=False),
                name="reference_validated_has_date",
                violation_error_message="A validated reference needs the date it was validated.",
            ),
        ]

    def __str__(self):
        return f"{self.customer_name} ({partner_name_of(self)})"


class TierChange(TimeStampedModel):
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="tier_changes")
    from_tier = models.ForeignKey(Tier, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    to_tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField()
    source = models.CharField(
        max_length=20, choices=TierChangeSource.choices, default=TierChangeSource.MANUAL
    )
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-changed_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(reason=""),
                name="tier_change_has_reason",
                violation_error_message="Say why the tier changed.",
            ),
            models.CheckConstraint(
                condition=Q(from_tier__isnull=True) | ~Q(from_tier=F("to_tier")),
                name="tier_change_changes_tier",
                violation_error_message="A tier change must move the partner to a different tier.",
            ),
            models.CheckConstraint(
                condition=~Q(source=TierChangeSource.SCHEDULED_CHECK) | Q(changed_by__isnull=True),
                name="tier_change_scheduled_has_no_user",
                violation_error_message="A change by the scheduled check has no acting user.",
            ),
        ]

    def __str__(self):
        return f"{self.partner}: {self.from_tier} → {self.to_tier}"


def contact_request_new_reference() -> str:
    """A short reference the customer can quote: unambiguous letters and digits only."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "CR-" + "".join(secrets.choice(alphabet) for _ in range(8))


_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


# Characters that turn the text after them around (U+202A to U+202E, U+2066 to U+2069): in a name or a
# company they make an email's subject read otherwise than what was sent.
_DIRECTION_OVERRIDES = re.compile("[\u202a-\u202e\u2066-\u2069]")


def validate_single_line(value: str) -> None:
    """For what ends up in an email's subject: a line break there is a header injection, never a name."""
    if _CONTROL_CHARACTERS.search(value):
        raise ValidationError("Use a single line, without line breaks or tabs.", code="not_single_line")
    if _DIRECTION_OVERRIDES.search(value):
        raise ValidationError(
            "Remove the characters that change the text's direction: they make it read otherwise.",
            code="direction_override",
        )


CONTACT_MESSAGE_MIN_LENGTH = 10


def validate_message_says_something(value: str) -> None:
    """A lead the partner can act on: at least a few characters one can see (spaces and invisible
    characters such as zero-width spaces do not count)."""
    visible = [c for c in value if not c.isspace() and unicodedata.category(c) != "Cf"]
    if len(visible) < CONTACT_MESSAGE_MIN_LENGTH:
        raise ValidationError(
            f"Tell the partner a little more: at least {CONTACT_MESSAGE_MIN_LENGTH} characters.",
            code="message_too_short",
        )


class ContactRequest(TimeStampedModel):
    """A lead from the Find-a-Partner page: stored before anything else happens, and never lost."""

    reference = models.CharField(
        max_length=20, unique=True, editable=False, default=contact_request_new_reference
    )
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="contact_requests")
    name = models.CharField(max_length=150, validators=[validate_single_line])
    email = models.EmailField("work email")
    company = models.CharField(max_length=200, validators=[validate_single_line])
    country = CountryField()
    message = models.TextField(max_length=5000, validators=[validate_message_says_something])
    project_size = models.CharField(max_length=20, choices=ProjectSize.choices, blank=True)
    timeline = models.CharField(max_length=20, choices=ProjectTimeline.choices, blank=True)
    status = models.CharField(
        max_length=20, choices=ContactRequestStatus.choices, default=ContactRequestStatus.NEW, db_index=True
    )
    decline_reason = models.TextField(blank=True)
    responded_at = models.DateTimeField(null=True, blank=True)
    responded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    submitted_from_ip = models.GenericIPAddressField(null=True, blank=True)
    # One submit of the profile's contact form is one request, however often the browser sends it (a
    # double click, Back and resubmit, a retry): a digest of the form's per-render token, the partner and
    # what was sent (partners.services.contact_request_submit). Unique, so concurrent sends store one;
    # empty for requests sent without a token (the API, an old cached form).
    submission_key = models.CharField(max_length=64, null=True, blank=True, unique=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["partner", "-created_at"], name="contact_partner_created_idx")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status=ContactRequestStatus.DECLINED) | ~Q(decline_reason=""),
                name="contact_request_decline_has_reason",
                violation_error_message="Say why the request was declined.",
            ),
        ]

    def __str__(self):
        return f"{self.reference}: {self.company} → {self.partner}"


# What a partner's staff may propose for its profile: name -> how the PDM's page and emails call it.
PROFILE_CHANGE_FIELDS = {
    "description": "About text",
    "website": "website",
    "industries": "industries",
    "use_cases": "use cases",
}


class ProfileChangeRequest(TimeStampedModel):
    """Changes a partner's staff propose to its public profile. They go live only when a PDM approves them.

    It holds the whole proposed text and lists, so the partner's preview and the PDM's page show the
    profile as it would be, and which of them the partner changed (`fields_changed`): approving it puts
    only those live, so a correction the PDM made meanwhile to another is kept. A newer proposal replaces
    the pending one.
    """

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="profile_change_requests")
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    description = models.TextField(blank=True)
    website = models.URLField(blank=True)
    industries = models.ManyToManyField(Industry, blank=True, related_name="+")
    use_cases = models.ManyToManyField(UseCase, blank=True, related_name="+")
    # Names of PROFILE_CHANGE_FIELDS, in that order, that differed from the live profile when proposed.
    fields_changed = models.JSONField(default=list, blank=True)
    status = models.CharField(
        max_length=20, choices=ProfileChangeStatus.choices, default=ProfileChangeStatus.PENDING, db_index=True
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True, help_text="Why it was rejected; shown to the partner.")

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "profile change request"
        constraints = [
            models.UniqueConstraint(
                fields=["partner"],
                condition=Q(status=ProfileChangeStatus.PENDING),
                name="profile_change_one_pending_per_partner",
                violation_error_message="This partner already has a proposal waiting for its PDM.",
            ),
            models.CheckConstraint(
                condition=~Q(status=ProfileChangeStatus.REJECTED) | ~Q(decision_reason=""),
                name="profile_change_rejection_has_reason",
                violation_error_message="Say why the proposed changes are rejected.",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=[ProfileChangeStatus.APPROVED, ProfileChangeStatus.REJECTED])
                | Q(decided_at__isnull=False),
                name="profile_change_decision_has_time",
                violation_error_message="A decided proposal needs the time of the decision.",
            ),
        ]

    def __str__(self):
        return f"Profile changes for {self.partner} ({self.get_status_display()})"

    def fields_changed_display(self) -> str:
        return ", ".join(PROFILE_CHANGE_FIELDS[name] for name in self.fields_changed) or "nothing"

    def replaced(self) -> list["KeptProposal"]:
        """The proposals this one replaced while they waited (profile_change_submit lays each over the one
        waiting), latest first, each with the changes of it this one still proposes: the fields of its
        fields_changed that this one changes to the same value. One whose every change was changed again,
        or set back, is left out: nothing of it goes live with this one, so its proposer is neither named
        beside it nor told of its decision (the partner's page lists theirs as replaced).
        Only a newer proposal supersedes one, so they are the partner's superseded ones just before it.
        A constant number of queries, however many there are: the tags are read at once, when compared."""
        earlier = (
            ProfileChangeRequest.objects.filter(partner_id=self.partner_id, created_at__lte=self.created_at)
            .exclude(pk=self.pk)
            .select_related("proposed_by")
            .order_by("-created_at", "-id")[:50]
        )
        superseded = []
        for proposal in earlier:
            if proposal.status != ProfileChangeStatus.SUPERSEDED:
                break
            superseded.append(proposal)
        return [kept for kept in ProfileChangeRequest.kept_of([(p, self) for p in superseded]) if kept.fields]

    @staticmethod
    def kept_of(pairs: list[tuple["ProfileChangeRequest", "ProfileChangeRequest"]]) -> list["KeptProposal"]:
        """For each (earlier, later) pair, the earlier proposal with those of its changes the later one still
        proposes, which may be none: the fields of its fields_changed that the later one changes to the same
        value. The rule replaced() names the replaced proposals by, and the partner's page its replaced ones
        by, for many pairs in a constant number of queries: the tags are read at once, when compared."""
        # Only a field the later one changes may be kept: another is the profile as it was, which approving
        # it leaves as it is.
        compared = [
            (earlier, later, [name for name in earlier.fields_changed if name in later.fields_changed])
            for earlier, later in pairs
        ]
        tags = {}
        for name in ("industries", "use_cases"):
            ids = {pk for earlier, later, names in compared if name in names for pk in (earlier.pk, later.pk)}
            if ids:
                field = ProfileChangeRequest._meta.get_field(name)
                rows = field.remote_field.through.objects.filter(
                    **{f"{field.m2m_field_name()}_id__in": ids}
                ).values_list(f"{field.m2m_field_name()}_id", f"{field.m2m_reverse_field_name()}_id")
                tags[name] = {}
                for proposal_id, tag_id in rows:
                    tags[name].setdefault(proposal_id, set()).add(tag_id)

        def value(proposal, name):
            return tags[name].get(proposal.pk, set()) if name in tags else getattr(proposal, name)

        return [
            KeptProposal(
                earlier, [name for name in names if value(earlier, name) == value(later, name)], later
            )
            for earlier, later, names in compared
        ]


@dataclasses.dataclass(frozen=True)
class KeptProposal:
    """A proposal another replaced (ProfileChangeRequest.replaced), with those of its changes the other
    still proposes, in PROFILE_CHANGE_FIELDS' order."""

    proposal: ProfileChangeRequest
    fields: list[str]
    replaced_by: ProfileChangeRequest

    def fields_display(self) -> str:
        return ", ".join(PROFILE_CHANGE_FIELDS[name] for name in self.fields)

    def changed_again(self) -> list[str]:
        """Those of its changes the later proposal changes to another value."""
        return [
            name
            for name in self.proposal.fields_changed
            if name not in self.fields and name in self.replaced_by.fields_changed
        ]

    def set_back(self) -> list[str]:
        """Those of its changes the later proposal drops: it leaves the field as the live profile has it."""
        return [name for name in self.proposal.fields_changed if name not in self.replaced_by.fields_changed]

    def changed_again_display(self) -> str:
        return ", ".join(PROFILE_CHANGE_FIELDS[name] for name in self.changed_again())

    def set_back_display(self) -> str:
        return ", ".join(PROFILE_CHANGE_FIELDS[name] for name in self.set_back())


class PostgresArrayField(ArrayField):
    """An array column on PostgreSQL; a plain text column elsewhere, where nothing reads or writes it.

    It lets the search entry table exist on SQLite too, so migrations, deletions and test flushes behave
    the same everywhere, while only PostgreSQL fills and queries it.
    """

    def db_type(self, connection):
        if connection.vendor != "postgresql":
            return "text"
        return super().db_type(connection)

    def get_db_prep_value(self, value, connection, prepared=False):
        # Elsewhere only a default is ever written (adding a column rebuilds an SQLite table with it):
        # as text, which is all the column holds.
        if connection.vendor != "postgresql":
            return None if value is None else json.dumps(value)
        return super().get_db_prep_value(value, connection, prepared)


class PartnerSearchEntry(models.Model):
    """What Find-a-Partner searches, filters, counts and sorts on: one row per partner, on PostgreSQL.

    A denormalised copy, so a search over 100,000 partners reads one table: the weighted search
    document, the ids behind each filter, and the counts the sorts use. Only approved, unexpired
    enrollments and certifications still valid are in it; `stale_on` is the first day on which one of
    them starts or stops counting, when partners.search.partner_search_refresh_due brings it up to date.
    Writes keep it current through partners.search_signals; bulk writes call
    partners.search.partner_search_refresh themselves. On SQLite it stays empty and the search reads the
    partner tables directly.

    Its GIN indexes (document, id arrays) and the trigram index on `name` are PostgreSQL-only, so
    migration 0005_partner_search makes them by hand rather than through Meta.indexes.
    """

    partner = models.OneToOneField(
        Partner, on_delete=models.CASCADE, primary_key=True, related_name="search_entry"
    )
    name = models.CharField(max_length=200)
    is_published = models.BooleanField(default=False)
    partner_type = models.CharField(max_length=20, choices=PartnerType.choices)
    tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="+")
    tier_rank = models.PositiveSmallIntegerField()
    document = SearchVectorField(null=True)
    program_ids = PostgresArrayField(models.BigIntegerField(), default=list, blank=True)
    industry_ids = PostgresArrayField(models.BigIntegerField(), default=list, blank=True)
    use_case_ids = PostgresArrayField(models.BigIntegerField(), default=list, blank=True)
    country_codes = PostgresArrayField(models.CharField(max_length=2), default=list, blank=True)
    # Every facet value of the partner as "<facet>:<value>" ("tier:3", "country:DE"): a search counts all
    # its facets in one pass over one array instead of one pass per facet.
    facet_keys = PostgresArrayField(models.TextField(), default=list, blank=True)
    active_certifications = models.PositiveIntegerField(default=0)
    validated_references = models.PositiveIntegerField(default=0)
    stale_on = models.DateField(null=True, blank=True)

    class Meta:
        verbose_name = "partner search entry"
        verbose_name_plural = "partner search entries"
        indexes = [
            models.Index(fields=["stale_on"], name="search_entry_stale_idx"),
            # The default order without search words, and the name order: the first page straight from
            # an index even when nothing is filtered.
            models.Index(
                fields=["-tier_rank", "-active_certifications", "name", "partner"],
                condition=Q(is_published=True),
                name="search_entry_tier_order_idx",
            ),
            models.Index(
                fields=["name", "partner"], condition=Q(is_published=True), name="search_entry_name_idx"
            ),
        ]

    def __str__(self):
        return f"Search entry for {self.name}"
