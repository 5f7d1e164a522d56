from django.db import models
from django.db.models import Q


class CheckRunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped: another run was in progress"


class CheckTrigger(models.TextChoices):
    SCHEDULE = "schedule", "Celery beat"
    COMMAND = "command", "manage.py run_checks"


class CheckRun(models.Model):
    """One run of a scheduled check: when, how it ended, and what it changed."""

    name = models.CharField(max_length=50, help_text="The check's name in the registry.")
    trigger = models.CharField(max_length=10, choices=CheckTrigger.choices, default=CheckTrigger.SCHEDULE)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=CheckRunStatus.choices, default=CheckRunStatus.RUNNING)
    changed = models.JSONField(default=dict, blank=True, help_text="What changed, counted by kind.")
    summary = models.TextField(blank=True, help_text="What changed, in words.")
    error = models.TextField(blank=True, help_text="Why the run failed.")
    state = models.JSONField(default=dict, blank=True, help_text="What the check's next run needs to know.")

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["name", "-started_at"], name="check_run_name_started_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status=CheckRunStatus.RUNNING) | Q(finished_at__isnull=False),
                name="check_run_finished_has_time",
                violation_error_message="A finished run needs the time it finished.",
            ),
            models.CheckConstraint(
                condition=~Q(status=CheckRunStatus.FAILED) | ~Q(error=""),
                name="check_run_failure_has_error",
                violation_error_message="A failed run records its error.",
            ),
        ]

    def __str__(self):
        return f"{self.name} at {self.started_at:%Y-%m-%d %H:%M} ({self.get_status_display()})"

    @property
    def duration(self):
        if self.finished_at is None:
            return None
        return self.finished_at - self.started_at
