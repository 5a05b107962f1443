from django.db import migrations, models


def guess_capabilities(apps, schema_editor):  # type: ignore[no-untyped-def]
    """Settings made before capabilities existed get the same first guess as a newly listed model."""
    from aitre.capabilities import guess

    ModelSetting = apps.get_model("aitre", "ModelSetting")
    for setting in ModelSetting.objects.all():
        setting.capabilities = guess(setting.name)
        setting.save(update_fields=["capabilities"])


class Migration(migrations.Migration):

    dependencies = [
        ("aitre", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="modelsetting",
            name="capabilities",
            field=models.JSONField(blank=True, default=list, help_text="What the model is offered for. Guessed from its name when first seen; yours to correct.", verbose_name="capabilities"),
        ),
        migrations.AddField(
            model_name="modelsetting",
            name="discovered",
            field=models.BooleanField(default=False, editable=False, verbose_name="found in the API's list"),
        ),
        migrations.RunPython(guess_capabilities, migrations.RunPython.noop),
    ]
