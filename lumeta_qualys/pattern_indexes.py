"""Migration operations that keep PostgreSQL to one index per text column.

On PostgreSQL, Django gives every indexed or unique text column a second
index with ``varchar_pattern_ops`` for LIKE 'prefix%' filters. Address keys
are only ever compared with =, <, > and BETWEEN, and a host's source only
with =, which the column's plain index serves. For those columns the second
index costs time on every insert and on every update of an indexed row (the
sync's flag changes) and serves no query. Other databases get no such
index, and the operation does nothing there.
"""

from django.db import migrations


def drop_pattern_indexes(columns: dict[str, list[str]]) -> migrations.RunPython:
    """Return an operation that drops the pattern index of each ``table: [column, ...]``.

    Reversing it creates the indexes again under Django's own names.
    """

    def index_names(schema_editor):
        for table, names in columns.items():
            for column in names:
                name = schema_editor._create_index_name(table, [column], suffix="_like")
                yield table, column, schema_editor.quote_name(name)

    def drop(apps, schema_editor) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        for _, _, name in index_names(schema_editor):
            schema_editor.execute(f"DROP INDEX IF EXISTS {name}")

    def create(apps, schema_editor) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        for table, column, name in index_names(schema_editor):
            schema_editor.execute(
                f"CREATE INDEX IF NOT EXISTS {name} ON {schema_editor.quote_name(table)} "
                f"({schema_editor.quote_name(column)} varchar_pattern_ops)"
            )

    return migrations.RunPython(drop, create, elidable=False)


def use_byte_order(table: str, column: str, max_length: int) -> migrations.RunPython:
    """Return an operation that gives a varchar column PostgreSQL's "C" collation.

    With it, the column's plain index orders text byte by byte, as SQLite
    does, and serves LIKE 'prefix%' filters itself, so Django's second
    ``varchar_pattern_ops`` index on the column is dropped. Every insert
    and every update of a row that cannot stay in place writes one index
    fewer. Reversing it restores the database's collation and the pattern
    index.
    """

    def pattern_index(schema_editor) -> str:
        return schema_editor.quote_name(
            schema_editor._create_index_name(table, [column], suffix="_like")
        )

    def alter(schema_editor, collation: str) -> None:
        schema_editor.execute(
            f"ALTER TABLE {schema_editor.quote_name(table)} ALTER COLUMN "
            f"{schema_editor.quote_name(column)} TYPE varchar({int(max_length)}) "
            f"COLLATE {collation}"
        )

    def forward(apps, schema_editor) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute(f"DROP INDEX IF EXISTS {pattern_index(schema_editor)}")
        alter(schema_editor, '"C"')

    def backward(apps, schema_editor) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        alter(schema_editor, '"default"')
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {pattern_index(schema_editor)} ON "
            f"{schema_editor.quote_name(table)} "
            f"({schema_editor.quote_name(column)} varchar_pattern_ops)"
        )

    return migrations.RunPython(forward, backward, elidable=False)
