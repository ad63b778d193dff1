"""Index stale hosts only: drop the indexes on ``stale`` and ``last_seen``.

No query read ``last_seen`` through its index (the admin's sort by it now
sorts), and the whole-table index on ``stale`` grew with every current
host. Each index costs time on every import and on every flag change.
"""

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('inventory', '0005_host_name_byte_order'),
    ]

    operations = [
        migrations.AlterField(
            model_name='host',
            name='last_seen',
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.AlterField(
            model_name='host',
            name='stale',
            field=models.BooleanField(default=False, help_text='Not listed by the latest complete import of its source. Stale hosts stay indexed.'),
        ),
        migrations.AddIndex(
            model_name='host',
            index=models.Index(condition=models.Q(('stale', True)), fields=['stale_since'], name='host_stale_since'),
        ),
    ]
