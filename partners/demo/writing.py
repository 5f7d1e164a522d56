"""Writing generated rows fast: PostgreSQL's COPY where we have it, bulk_create everywhere else.

A chunk goes out table by table, parents first: inserting a parent table hands back its new ids (on
PostgreSQL drawn from the table's own sequence before the COPY), which the child rows then point at.
"""

from django.db import connection
from django.db.models import AutoField, BigAutoField, Model, SmallAutoField
from django.utils import timezone

AUTO_FIELDS = (AutoField, BigAutoField, SmallAutoField)


class TableRows:
    """Rows for one model, as tuples in the order of `fields` (attribute names, e.g. `partner_id`)."""

    def __init__(self, model: type[Model], fields: tuple[str, ...]):
        self.model = model
        self.fields = fields
        self.rows: list[tuple] = []

    def add(self, *values) -> None:
        self.rows.append(values)

    def __len__(self):
        return len(self.rows)


class CopyWriter:
    """PostgreSQL: ids from the tables' sequences, rows through `COPY ... FROM STDIN`."""

    def __init__(self):
        self.now = timezone.now()

    def insert_returning_ids(self, table: TableRows) -> list[int]:
        if not table.rows:
            return []
        meta = table.model._meta
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [meta.db_table, meta.pk.column, len(table.rows)],
            )
            ids = [row[0] for row in cursor.fetchall()]
        with_ids = TableRows(table.model, (meta.pk.attname, *table.fields))
        with_ids.rows = [(pk, *row) for pk, row in zip(ids, table.rows, strict=True)]
        self.write(with_ids)
        return ids

    def write(self, table: TableRows) -> None:
        if not table.rows:
            return
        columns, constants = self._columns(table)
        quote = connection.ops.quote_name
        sql = f"COPY {quote(table.model._meta.db_table)} ({', '.join(quote(c) for c in columns)}) FROM STDIN"
        with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
            write_row = copy.write_row
            if constants:
                for row in table.rows:
                    write_row(row + constants)
            else:
                for row in table.rows:
                    write_row(row)

    def _columns(self, table: TableRows) -> tuple[list[str], tuple]:
        """The given columns, then every other column with the value the model would give it."""
        by_attname = {f.attname: f for f in table.model._meta.concrete_fields}
        columns = [by_attname[name].column for name in table.fields]
        constants = []
        for name, field in by_attname.items():
            if name in table.fields or isinstance(field, AUTO_FIELDS):
                continue
            if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
                value = self.now
            else:
                value = field.get_default()
            if value is None and not field.null:
                raise ValueError(
                    f"{table.model.__name__}.{name} needs a value: add it to the generated rows."
                )
            columns.append(field.column)
            constants.append(value)
        return columns, tuple(constants)


class BulkCreateWriter:
    """Any database that returns ids from a bulk insert (PostgreSQL, SQLite 3.35+): the ORM's bulk_create."""

    def insert_returning_ids(self, table: TableRows) -> list[int]:
        return [obj.pk for obj in self._create(table)]

    def write(self, table: TableRows) -> None:
        self._create(table)

    def _create(self, table: TableRows) -> list[Model]:
        model, fields = table.model, table.fields
        return model.objects.bulk_create(
            [model(**dict(zip(fields, row, strict=True))) for row in table.rows], batch_size=1000
        )


def writer_for_connection():
    return CopyWriter() if connection.vendor == "postgresql" else BulkCreateWriter()
