from django.db import models


class StaffRole(models.TextChoices):
    """Provider staff roles. Each is a Django group of the same name, which carries its admin permissions."""

    PDM = "Partner Development Manager"
    ACCOUNT_MANAGER = "Account Manager"
    SOLUTIONS_ARCHITECT = "Solutions Architect"
    TAM = "Technical Account Manager"
    # Answers support cases (support/): the whitepaper's Cloud Support Associates and Engineers.
    SUPPORT_ENGINEER = "Cloud Support Engineer"
