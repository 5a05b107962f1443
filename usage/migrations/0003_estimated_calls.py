import zoneinfo

from django.conf import settings
from django.db import migrations, models
from django.db.models import Count
from django.db.models.functions import TruncDate


def count_estimated_calls(apps, schema_editor):
    """Each day's estimated calls, from the records (few: only calls whose server reported no usage)."""
    UsageRecord = apps.get_model("usage", "UsageRecord")
    UsageDay = apps.get_model("usage", "UsageDay")
    zone = zoneinfo.ZoneInfo(settings.USAGE_TIME_ZONE)
    rows = (
        UsageRecord.objects.filter(estimated=True)
        .annotate(day=TruncDate("created_at", tzinfo=zone))
        .values("day", "user_id", "model", "kind")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for row in rows.iterator(chunk_size=2000):
        UsageDay.objects.filter(day=row["day"], user_id=row["user_id"], model=row["model"], kind=row["kind"]).update(
            estimated_calls=row["n"]
        )


class Migration(migrations.Migration):
    dependencies = [
        ("usage", "0002_usage_subject"),
    ]

    operations = [
        migrations.AddField(
            model_name="usageday",
            name="estimated_calls",
            field=models.PositiveIntegerField(default=0, verbose_name="estimated calls"),
        ),
        migrations.RunPython(count_estimated_calls, migrations.RunPython.noop),
    ]
