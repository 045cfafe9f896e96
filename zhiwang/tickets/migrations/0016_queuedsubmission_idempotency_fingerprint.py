from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('tickets', '0015_ticket_idempotency_fingerprint'),
    ]

    operations = [
        migrations.AddField(
            model_name='queuedsubmission',
            name='idempotency_fingerprint',
            field=models.CharField(blank=True, default='', max_length=64, verbose_name='idempotency fingerprint'),
        ),
    ]
