"""Drop PostgreSQL's LIKE indexes on the Qualys tables' address keys, which no query uses."""

from django.db import migrations

from lumeta_qualys.pattern_indexes import drop_pattern_indexes


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0004_scanned_host_name_indexes"),
    ]

    operations = [
        drop_pattern_indexes(
            {
                "integrations_scannedaddress": ["key"],
                "qualys_scanned_ips": ["address_key", "ipv6_key"],
                "qualys_subscribed_ips": ["start_key"],
            }
        ),
    ]
