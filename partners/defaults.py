"""The network's default reference data, seeded by migration and editable by PDMs afterwards.

Plain data only: the data migration imports this module, so it must not import models.
"""

# (slug, name) for each consulting category.
CONSULTING_CATEGORIES = [
    ("system-integrator", "System integrator"),
    ("strategic-consultancy", "Strategic consultancy"),
    ("agency", "Agency"),
    ("managed-service-provider", "Managed service provider"),
    ("value-added-reseller", "Value-added reseller"),
]

# partner type -> [(rank, slug, name, {metric: minimum})], from the provider's public tier guide.
TIER_LADDERS = {
    "consulting": [
        (0, "registered", "Registered", {}),
        (1, "select", "Select", {"foundational_people": 2, "technical_people": 2, "launched_projects": 3}),
        (
            2,
            "advanced",
            "Advanced",
            {
                "foundational_people": 4,
                "technical_people": 6,
                "advanced_technical_people": 3,
                "launched_projects": 20,
            },
        ),
        (
            3,
            "premier",
            "Premier",
            {
                "foundational_people": 10,
                "technical_people": 25,
                "advanced_technical_people": 10,
                "launched_projects": 50,
                "approved_programs": 3,
                "qualifying_programs": 1,
            },
        ),
    ],
    "technology": [
        (0, "registered", "Registered", {}),
        (1, "select", "Select", {"foundational_people": 1, "technical_people": 1, "launched_projects": 1}),
        (
            2,
            "advanced",
            "Advanced",
            {
                "foundational_people": 2,
                "technical_people": 3,
                "advanced_technical_people": 1,
                "launched_projects": 5,
            },
        ),
        (
            3,
            "premier",
            "Premier",
            {
                "foundational_people": 4,
                "technical_people": 6,
                "advanced_technical_people": 2,
                "launched_projects": 10,
                "approved_programs": 1,
            },
        ),
    ],
}

# (slug, name, kind, competency category, partner type or "", audit required, minimum tier slug or None,
#  validity months, qualifies for the top tier)
PROGRAMS = [
    (
        "managed-service-provider",
        "Managed Service Provider",
        "msp",
        "",
        "consulting",
        True,
        "advanced",
        12,
        True,
    ),
    (
        "solution-provider",
        "Solution Provider",
        "solution_provider",
        "",
        "consulting",
        False,
        "select",
        36,
        False,
    ),
    ("migration", "Migration Competency", "competency", "solution", "", True, "select", 36, False),
    ("security", "Security Competency", "competency", "solution", "", True, "select", 36, False),
    (
        "data-analytics",
        "Data and Analytics Competency",
        "competency",
        "solution",
        "",
        True,
        "select",
        36,
        False,
    ),
    ("devops", "DevOps Competency", "competency", "solution", "", True, "select", 36, False),
    ("databases", "Database Service Competency", "competency", "service", "", False, "select", 36, False),
    ("containers", "Container Service Competency", "competency", "service", "", False, "select", 36, False),
    (
        "financial-services",
        "Financial Services Competency",
        "competency",
        "industry",
        "",
        True,
        "select",
        36,
        False,
    ),
    ("healthcare", "Healthcare Competency", "competency", "industry", "", True, "select", 36, False),
    ("non-profit", "Non-profit Competency", "competency", "industry", "", False, "select", 36, False),
    ("public-sector", "Public Sector Competency", "competency", "industry", "", True, "select", 36, False),
    ("sap", "SAP Workload Competency", "competency", "workload", "", True, "advanced", 36, False),
    (
        "microsoft-workloads",
        "Microsoft Workloads Competency",
        "competency",
        "workload",
        "",
        True,
        "select",
        36,
        False,
    ),
]
