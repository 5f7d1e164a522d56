"""The Django admin for Partner Development Managers. Importing the modules registers their admins."""

from . import enrollment, partner, people, records, reference_data

__all__ = ["enrollment", "partner", "people", "records", "reference_data"]
