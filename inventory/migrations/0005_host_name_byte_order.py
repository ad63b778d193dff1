"""Give the host name PostgreSQL's "C" collation and drop its pattern index."""

from django.db import migrations

from lumeta_qualys.pattern_indexes import use_byte_order


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0004_drop_unused_pattern_indexes"),
    ]

    operations = [
        use_byte_order("inventory_host", "hostname", 255),
    ]
