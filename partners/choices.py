from django.db import models


class PartnerType(models.TextChoices):
    CONSULTING = "consulting", "Consulting"
    TECHNOLOGY = "technology", "Technology"


class CertificationLevel(models.TextChoices):
    FOUNDATIONAL = "foundational", "Foundational"
    ASSOCIATE = "associate", "Associate"
    PROFESSIONAL = "professional", "Professional"
    SPECIALTY = "specialty", "Specialty"


TECHNICAL_LEVELS = (
    CertificationLevel.ASSOCIATE,
    CertificationLevel.PROFESSIONAL,
    CertificationLevel.SPECIALTY,
)
ADVANCED_TECHNICAL_LEVELS = (CertificationLevel.PROFESSIONAL, CertificationLevel.SPECIALTY)


class RequirementMetric(models.TextChoices):
    """What a tier requirement counts. Each person counts once per line, as the real program counts them."""

    FOUNDATIONAL_PEOPLE = "foundational_people", "people with a foundational certification"
    TECHNICAL_PEOPLE = "technical_people", "people with a technical certification"
    ADVANCED_TECHNICAL_PEOPLE = "advanced_technical_people", "professional- or specialty-level people"
    LAUNCHED_PROJECTS = "launched_projects", "launched customer projects (validated references)"
    APPROVED_PROGRAMS = "approved_programs", "approved program validations"
    QUALIFYING_PROGRAMS = "qualifying_programs", "approved MSP (or other qualifying) program validations"


class ProgramKind(models.TextChoices):
    COMPETENCY = "competency", "Competency"
    MANAGED_SERVICE_PROVIDER = "msp", "Managed Service Provider"
    SOLUTION_PROVIDER = "solution_provider", "Solution Provider"
    OTHER = "other", "Other"


class CompetencyCategory(models.TextChoices):
    SOLUTION = "solution", "Solution"
    SERVICE = "service", "Service"
    INDUSTRY = "industry", "Industry"
    WORKLOAD = "workload", "Workload"


class EnrollmentStatus(models.TextChoices):
    APPLIED = "applied", "Applied"
    UNDER_REVIEW = "under_review", "Under review"
    AUDIT_SCHEDULED = "audit_scheduled", "Audit scheduled"
    APPROVED = "approved", "Approved"
    EXPIRED = "expired", "Expired"
    REVOKED = "revoked", "Revoked"


# An enrollment in one of these states is "live": a partner holds at most one live enrollment per program.
LIVE_ENROLLMENT_STATUSES = (
    EnrollmentStatus.APPLIED,
    EnrollmentStatus.UNDER_REVIEW,
    EnrollmentStatus.AUDIT_SCHEDULED,
    EnrollmentStatus.APPROVED,
)


class AuditResult(models.TextChoices):
    PASSED = "passed", "Passed"
    FAILED = "failed", "Failed"


class TierChangeSource(models.TextChoices):
    MANUAL = "manual", "A person"
    SCHEDULED_CHECK = "scheduled_check", "The scheduled check"


class ContactRequestStatus(models.TextChoices):
    NEW = "new", "New"
    ACCEPTED = "accepted", "Accepted"
    DECLINED = "declined", "Declined"


class ProjectSize(models.TextChoices):
    SMALL = "small", "Under $50k"
    MEDIUM = "medium", "$50k to $250k"
    LARGE = "large", "$250k to $1M"
    ENTERPRISE = "enterprise", "Over $1M"


class ProjectTimeline(models.TextChoices):
    NOW = "now", "As soon as possible"
    QUARTER = "quarter", "Within 3 months"
    HALF_YEAR = "half_year", "Within 6 months"
    EXPLORING = "exploring", "Just exploring"


class ProfileChangeStatus(models.TextChoices):
    PENDING = "pending", "Waiting for the PDM"
    APPROVED = "approved", "Approved and live"
    REJECTED = "rejected", "Rejected"
    SUPERSEDED = "superseded", "Replaced by a later proposal"
    WITHDRAWN = "withdrawn", "Withdrawn by the partner"
