from django.db import models


class TimeStampedModel(models.Model):
    """Base of every domain model: `updated_at` is what integrators sync on (`updated_since`)."""

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        abstract = True
