from django.db import models


class AgreementType(models.TextChoices):
    CUSTOMER = "customer", "Customer Agreement"
    ENTERPRISE = "enterprise", "Enterprise Agreement (many accounts)"


class Payer(models.TextChoices):
    """Who pays an account's bill: the customer itself, or a reseller under the Solution Provider program."""

    CUSTOMER = "customer", "The customer"
    RESELLER = "reseller", "A reseller partner"


class ProcurementModel(models.TextChoices):
    DIRECT = "direct", "Direct"
    RESELLER = "reseller", "Through a reseller"
    MANAGED_SERVICE = "managed_service", "Managed service provider operating the accounts"
    COMBINATION = "combination", "A combination, split by region or business function"


class EngagementStatus(models.TextChoices):
    PROPOSED = "proposed", "Proposed"
    ACTIVE = "active", "Active"
    ON_HOLD = "on_hold", "On hold"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


# An engagement in one of these states is over: nothing advances and nobody new joins it.
CLOSED_ENGAGEMENT_STATUSES = (EngagementStatus.COMPLETED, EngagementStatus.CANCELLED)


class EngagementStage(models.TextChoices):
    """The whitepaper's five-step journey, in order (see STAGE_ORDER)."""

    ON_PREMISES = "on_premises", "Workload on premises"
    COPIED = "copied", "Copy moved to a region"
    REHOSTED = "rehosted", "Re-hosted"
    REARCHITECTED = "rearchitected", "Re-architected for production"
    OPERATED = "operated", "Operated"


STAGE_ORDER: list[EngagementStage] = list(EngagementStage)


def stage_after(stage: str) -> EngagementStage | None:
    """The journey's next step after `stage`, or None at its end."""
    position = STAGE_ORDER.index(EngagementStage(stage))
    return STAGE_ORDER[position + 1] if position + 1 < len(STAGE_ORDER) else None


def stage_position(stage: str) -> int:
    """1 for the first step of the journey, 5 for the last."""
    return STAGE_ORDER.index(EngagementStage(stage)) + 1


class PartnerRole(models.TextChoices):
    CONSULTING_LEAD = "consulting_lead", "Consulting lead"
    TECHNOLOGY = "technology", "Technology partner"
    MANAGED_SERVICE = "managed_service", "Managed service provider"
    RESELLER = "reseller", "Reseller"


class TeamRole(models.TextChoices):
    CUSTOMER_IT = "customer_it", "Customer IT"
    CUSTOMER_FINANCE = "customer_finance", "Customer finance"
    ACCOUNT_MANAGER = "account_manager", "Account Manager"
    SOLUTIONS_ARCHITECT = "solutions_architect", "Solutions Architect"
    TAM = "tam", "Technical Account Manager"
    PROFESSIONAL_SERVICES = "professional_services", "Professional Services consultant"
    PARTNER_ARCHITECT = "partner_architect", "Partner architect"
    MANAGED_SERVICE_OPERATOR = "managed_service_operator", "Managed-service operator"


CUSTOMER_TEAM_ROLES = (TeamRole.CUSTOMER_IT, TeamRole.CUSTOMER_FINANCE)
PROVIDER_TEAM_ROLES = (
    TeamRole.ACCOUNT_MANAGER,
    TeamRole.SOLUTIONS_ARCHITECT,
    TeamRole.TAM,
    TeamRole.PROFESSIONAL_SERVICES,
)
PARTNER_TEAM_ROLES = (TeamRole.PARTNER_ARCHITECT, TeamRole.MANAGED_SERVICE_OPERATOR)


class AccessScope(models.TextChoices):
    READ_ONLY = "read_only", "Read-only"
    BILLING = "billing", "Billing"
    OPERATIONS = "operations", "Operations"
    ADMINISTRATION = "administration", "Administration"


class AccessGrantState(models.TextChoices):
    """How a grant reads to its customer, its partner and an auditor, for good: a grant that simply ran out
    stays expired, and only one cut short (by a person, with who and why) is revoked."""

    LIVE = "live", "Live"
    EXPIRED = "expired", "Expired"
    REVOKED = "revoked", "Revoked"


class ServicesBuyer(models.TextChoices):
    CUSTOMER = "customer", "The customer"
    PARTNER = "partner", "The partner"
