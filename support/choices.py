from django.db import models


class TrustedAdvisorChecks(models.TextChoices):
    CORE = "core", "7 core checks"
    FULL = "full", "Full checks"


class TechnicalSupportHours(models.TextChoices):
    """When the plan's technical support answers; it decides how a case's first-response deadline runs."""

    NONE = "none", "No technical support"
    BUSINESS_HOURS = "business_hours", "Local business hours (08:00 to 18:00 on weekdays)"
    AROUND_THE_CLOCK = "around_the_clock", "24x7"


class TamCoverage(models.TextChoices):
    NONE = "none", "No TAM"
    POOL = "pool", "A pool of Technical Account Managers"
    DESIGNATED = "designated", "A designated Technical Account Manager"


class Severity(models.TextChoices):
    """Case severities, least urgent first (SEVERITY_ORDER)."""

    GENERAL_GUIDANCE = "general_guidance", "General guidance"
    SYSTEM_IMPAIRED = "system_impaired", "System impaired"
    PRODUCTION_IMPAIRED = "production_impaired", "Production system impaired"
    PRODUCTION_DOWN = "production_down", "Production system down"
    BUSINESS_CRITICAL_DOWN = "business_critical_down", "Business-critical system down"


SEVERITY_ORDER: list[Severity] = list(Severity)


class CaseType(models.TextChoices):
    TECHNICAL = "technical", "Technical support"
    ACCOUNT_AND_BILLING = "account_and_billing", "Account and billing (customer service)"


class CaseStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_PROGRESS = "in_progress", "In progress"
    WAITING_ON_CUSTOMER = "waiting_on_customer", "Waiting on customer"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"


# A case in one of these states still waits for somebody; resolved and closed ones do not.
ACTIVE_CASE_STATUSES = (CaseStatus.OPEN, CaseStatus.IN_PROGRESS, CaseStatus.WAITING_ON_CUSTOMER)
DONE_CASE_STATUSES = (CaseStatus.RESOLVED, CaseStatus.CLOSED)


class SubscriptionChange(models.TextChoices):
    """Why a subscription row began: the history of a customer's (or account's) support."""

    STARTED = "started", "Subscribed"
    UPGRADED = "upgraded", "Upgraded"
    DOWNGRADED = "downgraded", "Downgraded"
    CHANGED = "changed", "Changed (same level)"
    SUCCESSOR = "successor", "Moved to the successor of a retired plan"


class ReplySide(models.TextChoices):
    """Who wrote a reply: the side that asked (the customer, or a partner acting for it) or answered."""

    REQUESTER = "requester", "Requester"
    PARTNER_SUPPORT = "partner_support", "Reselling partner's support"
    PROVIDER_SUPPORT = "provider_support", "Provider support"


class CertificationTrack(models.TextChoices):
    """The provider's own staff's certifications: a TAM needs a Solutions Architect one."""

    SOLUTIONS_ARCHITECT = "solutions_architect", "Solutions Architect"
    DEVELOPER = "developer", "Developer"
    SYSOPS_ADMINISTRATOR = "sysops_administrator", "SysOps Administrator"
    DEVOPS_ENGINEER = "devops_engineer", "DevOps Engineer"
    OTHER = "other", "Other"
