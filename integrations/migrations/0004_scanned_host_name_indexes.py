"""Indexes for the start of a scanned host's DNS or NetBIOS name, matched without regard to case.

The dashboard's name filter runs Django's ``istartswith`` on both names. On
PostgreSQL that is ``UPPER(column::text) LIKE UPPER(prefix)``, which only an
index on the same expression with ``text_pattern_ops`` can serve in every
collation. On SQLite it is ``column LIKE prefix ESCAPE '\\'``, case-insensitive
for ASCII, which SQLite reads from an index only when the index uses the
NOCASE collation. One index definition cannot serve both, so the SQL is
chosen by database; other databases get no index.

NOTE: SQLite picks these indexes only when it has statistics (ANALYZE).
Without them it walks the list in address order and checks each row's
names, because that order also serves the page's ORDER BY.
"""

from django.db import migrations

NAMES = {
    "dns": "scanned_host_dns_prefix",
    "netbios": "scanned_host_netbios_prefix",
}


def _create(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    for column, name in NAMES.items():
        if vendor == "postgresql":
            expression = f'(UPPER("{column}"::text) text_pattern_ops)'
        elif vendor == "sqlite":
            expression = f'("{column}" COLLATE NOCASE)'
        else:
            continue
        schema_editor.execute(f'CREATE INDEX "{name}" ON "qualys_scanned_ips" {expression}')
    if vendor == "postgresql":
        # The planner estimates a LIKE on an expression from the statistics
        # ANALYZE gathers for the expression index; without them it guesses.
        schema_editor.execute('ANALYZE "qualys_scanned_ips"')


def _drop(apps, schema_editor) -> None:
    if schema_editor.connection.vendor not in ("postgresql", "sqlite"):
        return
    for name in NAMES.values():
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0003_scanned_address_host_unconstrained"),
    ]

    operations = [
        migrations.RunPython(_create, _drop, elidable=False),
    ]
