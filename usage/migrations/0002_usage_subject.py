"""
A usage record points at what the call was for through a content type
(a conversation today; a generation or a job later), not a foreign key into
chat: the ledger depends on no feature. Existing records keep their
conversation as their subject.
"""

import django.db.models.deletion
from django.db import migrations, models


def conversations_become_subjects(apps, schema_editor):  # type: ignore[no-untyped-def]
    ContentType = apps.get_model("contenttypes", "ContentType")
    UsageRecord = apps.get_model("usage", "UsageRecord")
    if not UsageRecord.objects.filter(conversation__isnull=False).exists():
        return
    conversation_type, _ = ContentType.objects.get_or_create(app_label="chat", model="conversation")
    UsageRecord.objects.filter(conversation__isnull=False).update(
        subject_type=conversation_type, subject_id=models.F("conversation_id")
    )


def subjects_become_conversations(apps, schema_editor):  # type: ignore[no-untyped-def]
    ContentType = apps.get_model("contenttypes", "ContentType")
    UsageRecord = apps.get_model("usage", "UsageRecord")
    Conversation = apps.get_model("chat", "Conversation")
    conversation_type = ContentType.objects.filter(app_label="chat", model="conversation").first()
    if conversation_type is None:
        return
    records = UsageRecord.objects.filter(subject_type=conversation_type)
    records.filter(subject_id__in=Conversation.objects.values("pk")).update(conversation_id=models.F("subject_id"))


class Migration(migrations.Migration):

    dependencies = [
        ("usage", "0001_initial"),
        ("chat", "0003_privacy_and_submits"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.AddField(
            model_name="usagerecord",
            name="subject_type",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="contenttypes.contenttype",
            ),
        ),
        migrations.AddField(
            model_name="usagerecord",
            name="subject_id",
            field=models.PositiveBigIntegerField(blank=True, null=True),
        ),
        migrations.RunPython(conversations_become_subjects, subjects_become_conversations),
        migrations.RemoveField(model_name="usagerecord", name="conversation"),
        migrations.RemoveField(model_name="usagerecord", name="message"),
        migrations.AddIndex(
            model_name="usagerecord",
            index=models.Index(fields=["subject_type", "subject_id"], name="usage_record_subject_idx"),
        ),
    ]
