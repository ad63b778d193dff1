"""Write stored IPv4-mapped IPv6 addresses in dotted form: ::ffff:192.0.2.1.

The canonical text of these addresses changed from Python 3.11's
``::ffff:c000:201``. Their keys, and so every query and set, stay the same.
"""

from django.db import migrations

FIRST = 0xFFFF << 32
LAST = FIRST | 0xFFFFFFFF


def rewrite(apps, schema_editor):
    from lumeta_qualys.ipset import address_key, format_address, parse_key

    Host = apps.get_model("inventory", "Host")
    mapped = Host.objects.filter(key__gte=address_key(6, FIRST), key__lte=address_key(6, LAST))
    for host in mapped.only("id", "key").iterator():
        version, value = parse_key(host.key)
        Host.objects.filter(pk=host.pk).update(address=format_address(version, value))


class Migration(migrations.Migration):

    dependencies = [
        ("inventory", "0006_stale_hosts_partial_index"),
    ]

    operations = [
        migrations.RunPython(rewrite, migrations.RunPython.noop),
    ]
