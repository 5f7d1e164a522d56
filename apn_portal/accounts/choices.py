from django.db import models


class StaffRole(models.TextChoices):
    """Provider staff roles. Each is a Django group of the same name, which carries its admin permissions."""

    PDM = "Partner Development Manager"
    ACCOUNT_MANAGER = "Account Manager"
    SOLUTIONS_ARCHITECT = "Solutions Architect"
    TAM = "Technical Account Manager"
