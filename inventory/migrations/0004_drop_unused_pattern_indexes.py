"""Drop PostgreSQL's LIKE indexes on the host's address key and source, which no query uses."""

from django.db import migrations

from lumeta_qualys.pattern_indexes import drop_pattern_indexes


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0003_host_flags_index"),
    ]

    operations = [
        drop_pattern_indexes({"inventory_host": ["key", "source"]}),
    ]
