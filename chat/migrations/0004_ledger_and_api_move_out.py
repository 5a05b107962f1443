"""
The ledger moved to ``usage`` and the credentials and model settings to
``aitre`` (their migrations 0001 take the same tables over). Here chat lets
go of them, and their content types follow them, so the permissions granted
on them (who may see the usage dashboard, say) stay granted.
"""

from django.db import migrations

MOVED = {
    "credential": "aitre",
    "modelsetting": "aitre",
    "price": "usage",
    "quota": "usage",
    "quotatopup": "usage",
    "usageday": "usage",
    "usagerecord": "usage",
}


def content_types_follow(apps, schema_editor):  # type: ignore[no-untyped-def]
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model, app_label in MOVED.items():
        if not ContentType.objects.filter(app_label=app_label, model=model).exists():
            ContentType.objects.filter(app_label="chat", model=model).update(app_label=app_label)


def content_types_return(apps, schema_editor):  # type: ignore[no-untyped-def]
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model, app_label in MOVED.items():
        if not ContentType.objects.filter(app_label="chat", model=model).exists():
            ContentType.objects.filter(app_label=app_label, model=model).update(app_label="chat")


class Migration(migrations.Migration):

    dependencies = [
        ("chat", "0003_privacy_and_submits"),
        ("aitre", "0001_initial"),
        ("usage", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.DeleteModel(name="UsageRecord"),
                migrations.DeleteModel(name="UsageDay"),
                migrations.DeleteModel(name="QuotaTopUp"),
                migrations.DeleteModel(name="Quota"),
                migrations.DeleteModel(name="Price"),
                migrations.DeleteModel(name="Credential"),
                migrations.DeleteModel(name="ModelSetting"),
            ],
        ),
        migrations.RunPython(content_types_follow, content_types_return),
    ]
