"""The partner network's scheduled checks (see apn_portal.checks.registry); importing this package
registers them. They run in this order: certifications first, then the tiers they hold up, then the
programs that need those tiers."""

from partners.checks import certification_expiry, program_renewal, tier_health

__all__ = ["certification_expiry", "program_renewal", "tier_health"]
