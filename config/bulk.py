"""Writing thousands of rows at once, for the sweeps. Django's bulk_create spends most of its time
building and preparing model instances; on PostgreSQL, COPY takes plain tuples instead."""

from collections.abc import Sequence
from datetime import datetime

from django.db import connection, models
from psycopg.types.json import Jsonb


def insert_rows(model: type[models.Model], fields: Sequence[str], rows: Sequence[tuple]) -> list[int]:
    """Insert `rows` (tuples in the order of `fields`; a foreign key given by its id) in one go and
    return their primary keys, in order. A row that breaks a constraint fails the whole insert, as
    bulk_create would."""
    if not rows:
        return []
    meta = model._meta
    model_fields = [meta.get_field(name) for name in fields]
    if connection.vendor != "postgresql":
        created = model.objects.bulk_create(
            [model(**{field.attname: value for field, value in zip(model_fields, row, strict=True)}) for row in rows],
            batch_size=500,
        )
        return [instance.pk for instance in created]
    # COPY returns nothing, so the keys are taken from the table's sequence first.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, meta.pk.column, len(rows)],
        )
        ids = [row[0] for row in cursor.fetchall()]
    model_fields = [meta.pk, *model_fields]
    rows = [(pk, *row) for pk, row in zip(ids, rows, strict=True)]
    json_positions = [i for i, field in enumerate(model_fields) if isinstance(field, models.JSONField)]
    columns = ", ".join(connection.ops.quote_name(field.column) for field in model_fields)
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {connection.ops.quote_name(meta.db_table)} ({columns}) FROM STDIN") as copy,
    ):
        for row in rows:
            if json_positions:
                row = list(row)
                for i in json_positions:
                    row[i] = Jsonb(row[i])
            copy.write_row(row)
    return ids


def update_datetime_column(model: type[models.Model], field: str, values: dict[int, datetime | None]) -> None:
    """Set a date-time column to a different value per primary key, in one statement on PostgreSQL."""
    if not values:
        return
    meta = model._meta
    column = meta.get_field(field).column
    if connection.vendor != "postgresql":
        objects = [model(pk=pk, **{field: value}) for pk, value in values.items()]
        model.objects.bulk_update(objects, [field], batch_size=500)
        return
    table = connection.ops.quote_name(meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS t SET {connection.ops.quote_name(column)} = v.value "  # noqa: S608 - names from the model
            f"FROM unnest(%s::bigint[], %s::timestamptz[]) AS v(id, value) WHERE t.id = v.id",
            [list(values.keys()), list(values.values())],
        )
