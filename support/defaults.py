"""The support plans: the whitepaper's Table 1 (Basic, Developer, Business, Enterprise), today's Enterprise
On-Ramp, and Business Support+, which Developer and Business retire in favour of on 1 January 2027.

Plans are data the provider's support staff edit in the admin afterwards; support.reference_data seeds them
once, into an empty table (after the first migrate, and after a test database is flushed); a plan added
here later reaches a running portal by a data migration. Plain data only.
"""

import datetime

H = 60  # minutes in an hour
LEGACY_FROM = datetime.date(2010, 1, 1)
RETIREMENT = datetime.date(2027, 1, 1)

CORE_FEATURES = {
    "customer_service_24x7": True,
    "health_dashboard": True,
    "support_forums": True,
    "documentation": True,
}
ALL_CHANNELS = {"via_email": True, "via_chat": True, "via_phone": True}

PLANS = [
    {
        "slug": "basic",
        "name": "Basic",
        "rank": 0,
        "summary": "Every customer has it: customer service for account and billing questions, forums and "
        "documentation. No technical cases.",
        "trusted_advisor": "core",
        "health_api": False,
        "technical_support_hours": "none",
        "technical_support_staff": "",
        "tam_coverage": "none",
        "available_from": LEGACY_FROM,
        "targets": {},
    },
    {
        "slug": "business-support-plus",
        "name": "Business Support+",
        "rank": 25,
        "summary": "The successor of Developer and Business: 24x7 technical support, and a 30-minute "
        "response when a business-critical system is down.",
        "trusted_advisor": "full",
        "health_api": True,
        "technical_support_hours": "around_the_clock",
        "technical_support_staff": "Cloud Support Engineers",
        **ALL_CHANNELS,
        "tam_coverage": "none",
        "available_from": datetime.date(2026, 10, 1),
        "targets": {
            "general_guidance": 24 * H,
            "system_impaired": 12 * H,
            "production_impaired": 4 * H,
            "production_down": 1 * H,
            "business_critical_down": 30,
        },
    },
    {
        "slug": "developer",
        "name": "Developer",
        "rank": 10,
        "summary": "For experimenting and testing: business-hours email access to Cloud Support Associates.",
        "trusted_advisor": "core",
        "health_api": False,
        "technical_support_hours": "business_hours",
        "technical_support_staff": "Cloud Support Associates",
        "via_email": True,
        "tam_coverage": "none",
        "available_from": LEGACY_FROM,
        "retires_on": RETIREMENT,
        "successor": "business-support-plus",
        "targets": {"general_guidance": 24 * H, "system_impaired": 12 * H},
    },
    {
        "slug": "business",
        "name": "Business",
        "rank": 20,
        "summary": (
            "For production workloads: 24x7 access to Cloud Support Engineers by email, chat and phone."
        ),
        "trusted_advisor": "full",
        "health_api": True,
        "technical_support_hours": "around_the_clock",
        "technical_support_staff": "Cloud Support Engineers",
        **ALL_CHANNELS,
        "tam_coverage": "none",
        "available_from": LEGACY_FROM,
        "retires_on": RETIREMENT,
        "successor": "business-support-plus",
        "targets": {
            "general_guidance": 24 * H,
            "system_impaired": 12 * H,
            "production_impaired": 4 * H,
            "production_down": 1 * H,
        },
    },
    {
        "slug": "enterprise-on-ramp",
        "name": "Enterprise On-Ramp",
        "rank": 30,
        "summary": "For business-critical workloads: Sr. Cloud Support Engineers 24x7 and a pool of TAMs.",
        "trusted_advisor": "full",
        "health_api": True,
        "technical_support_hours": "around_the_clock",
        "technical_support_staff": "Sr. Cloud Support Engineers",
        **ALL_CHANNELS,
        "tam_coverage": "pool",
        "available_from": datetime.date(2021, 11, 1),
        "targets": {
            "general_guidance": 24 * H,
            "system_impaired": 12 * H,
            "production_impaired": 4 * H,
            "production_down": 1 * H,
            "business_critical_down": 30,
        },
    },
    {
        "slug": "enterprise",
        "name": "Enterprise",
        "rank": 40,
        "summary": "Concierge-like service: Sr. Cloud Support Engineers 24x7 and a designated Technical "
        "Account Manager.",
        "trusted_advisor": "full",
        "health_api": True,
        "technical_support_hours": "around_the_clock",
        "technical_support_staff": "Sr. Cloud Support Engineers",
        **ALL_CHANNELS,
        "tam_coverage": "designated",
        "available_from": LEGACY_FROM,
        "targets": {
            "general_guidance": 24 * H,
            "system_impaired": 12 * H,
            "production_impaired": 4 * H,
            "production_down": 1 * H,
            "business_critical_down": 15,
        },
    },
]
