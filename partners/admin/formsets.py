"""Inline rows checked against each other before the database does it, and a clash the database still
finds shown on the form."""

from collections import defaultdict

from django.db import IntegrityError, router, transaction
from django.db.models import F, UniqueConstraint
from django.db.models.functions import Lower
from django.forms.models import BaseInlineFormSet
from django.utils.text import capfirst

from apn_portal.api.constraints import save_clash

ROW_CLASH = "Clashes with a row above: {message}"


class UniqueRowsInlineFormSet(BaseInlineFormSet):
    """Django checks each row against the stored ones, but the rows of one save against each other only
    for unconditional unique constraints: two new rows that a conditional one forbids together (two
    headquarters, one email twice) would each pass and fail only in the database, a 500. They are refused
    here, on the later row, with the constraint's own message.

    What the database still refuses at save (a row somebody else saved after these were checked) becomes a
    refusal: AdminInputMixin shows the form again with it and the save rolled back. (A row changed is saved
    as its page's own record is: AdminInputMixin's formsets keep what a row does not edit as stored.)"""

    def clean(self):
        super().clean()
        rows = [
            form
            for form in self.forms
            if form.is_valid()
            and not self._should_delete_form(form)
            and (form.instance.pk is not None or form.has_changed())
        ]
        for constraint in self.model._meta.constraints:
            conditional = isinstance(constraint, UniqueConstraint) and constraint.condition is not None
            if conditional and self._parts(constraint) is not None:
                self._refuse_clashes(constraint, rows)

    @staticmethod
    def _parts(constraint: UniqueConstraint) -> list[tuple[str, bool]] | None:
        """(field name, compared in lower case) for each part of the constraint: its fields, or F() and
        Lower() of a field; None for another expression, which the database alone can check."""
        if constraint.fields:
            return [(name, False) for name in constraint.fields]
        parts = []
        for expression in constraint.expressions:
            lowered = isinstance(expression, Lower)
            source = expression.get_source_expressions()[0] if lowered else expression
            if not isinstance(source, F):
                return None
            parts.append((source.name, lowered))
        return parts

    def _refuse_clashes(self, constraint: UniqueConstraint, rows) -> None:
        parts = self._parts(constraint)
        groups = defaultdict(list)
        for form in rows:
            key = tuple(self._key_value(form.instance, name, lowered) for name, lowered in parts)
            # NULLs never clash in a unique index unless the constraint says they do.
            if None in key and constraint.nulls_distinct is not False:
                continue
            groups[key].append(form)
        using = router.db_for_write(self.model)
        message = ROW_CLASH.format(message=constraint.get_violation_error_message())
        for forms in groups.values():
            if len(forms) < 2:
                continue  # the usual case: no query at all
            under = [form for form in forms if self._falls_under(constraint, form.instance, using)]
            for form in under[1:]:
                # Beside the field that repeats, else (one headquarters: only the parent repeats) on the row.
                fields = [name for name, _ in parts if name in form.fields and name != self.fk.name]
                form.add_error(fields[0] if fields else None, message)

    def _key_value(self, instance, name: str, lowered: bool = False):
        if name == self.fk.name:
            return "the parent"  # the same for every row, even before the parent is saved and has a key
        value = instance._meta.get_field(name).value_from_object(instance)
        return value.lower() if lowered and isinstance(value, str) else value

    @staticmethod
    def _falls_under(constraint: UniqueConstraint, instance, using: str) -> bool:
        # The condition asked of the row as the form built it, the way Django's own constraint check does.
        against = instance._get_field_expression_map(meta=instance._meta)
        return constraint.condition.check(against, using=using)

    def save(self, commit=True):
        try:
            # All the rows or none, whatever transaction the caller holds.
            with transaction.atomic(using=router.db_for_write(self.model)):
                return super().save(commit)
        except IntegrityError as error:
            raise save_clash(error, capfirst(self.model._meta.verbose_name_plural)) from error
