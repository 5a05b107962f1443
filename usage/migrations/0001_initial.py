"""
Prices, usage records, day totals, quotas and top-ups move here from chat:
the rows stay where they are (the tables keep their names); only Django's
idea of their app changes. 0002 then unties the records from chat.
"""

import django.db.models.deletion
import django.db.models.functions.comparison
import django.utils.timezone
from decimal import Decimal

import usage.fields
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("chat", "0003_privacy_and_submits"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name='Price',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('model', models.CharField(max_length=200, verbose_name='model id')),
                        ('variant', models.CharField(blank=True, help_text='For models priced by size or quality, e.g. "1024x1024 hd". Blank: the price of every variant without its own.', max_length=100, verbose_name='variant')),
                        ('unit', models.CharField(choices=[('tokens', 'per million tokens (input and output)'), ('image', 'per image'), ('minute', 'per minute of audio'), ('kchars', 'per thousand characters'), ('task', 'per task')], default='tokens', max_length=16, verbose_name='unit')),
                        ('input_price', models.DecimalField(blank=True, decimal_places=6, help_text='Per million tokens.', max_digits=14, null=True, verbose_name='input price')),
                        ('output_price', models.DecimalField(blank=True, decimal_places=6, help_text='Per million tokens.', max_digits=14, null=True, verbose_name='output price')),
                        ('unit_price', models.DecimalField(blank=True, decimal_places=6, help_text='Per image, minute, thousand characters or task.', max_digits=14, null=True, verbose_name='price per unit')),
                        ('updated_at', models.DateTimeField(auto_now=True, verbose_name='updated')),
                    ],
                    options={
                        'verbose_name': 'price',
                        'verbose_name_plural': 'prices',
                        'db_table': 'chat_price',
                        'ordering': ['model', 'variant'],
                        'constraints': [models.UniqueConstraint(fields=('model', 'variant'), name='one_price_per_model_variant')],
                    },
                ),
                migrations.CreateModel(
                    name='Quota',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('measure', models.CharField(choices=[('tokens', 'tokens'), ('cost', 'cost'), ('unlimited', 'unlimited')], default='tokens', max_length=16, verbose_name='limit in')),
                        ('period', models.CharField(choices=[('day', 'day'), ('week', 'week'), ('month', 'month')], default='month', max_length=16, verbose_name='per')),
                        ('token_limit', models.PositiveBigIntegerField(blank=True, null=True, verbose_name='token limit')),
                        ('cost_limit', models.DecimalField(blank=True, decimal_places=4, max_digits=14, null=True, verbose_name='cost limit')),
                        ('updated_at', models.DateTimeField(auto_now=True, verbose_name='updated')),
                        ('user', models.OneToOneField(blank=True, help_text='Blank: the default for every user without a quota of their own.', null=True, on_delete=django.db.models.deletion.CASCADE, related_name='quota', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'verbose_name': 'quota',
                        'verbose_name_plural': 'quotas',
                        'db_table': 'chat_quota',
                        'constraints': [models.UniqueConstraint(django.db.models.functions.comparison.Coalesce('user', 0), name='one_quota_per_user')],
                    },
                ),
                migrations.CreateModel(
                    name='QuotaTopUp',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('tokens', models.PositiveBigIntegerField(default=0, verbose_name='extra tokens')),
                        ('cost', models.DecimalField(decimal_places=4, default=Decimal('0'), max_digits=14, verbose_name='extra cost')),
                        ('note', models.CharField(blank=True, max_length=200, verbose_name='note')),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='granted')),
                        ('granted_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='quota_top_ups', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'verbose_name': 'quota top-up',
                        'verbose_name_plural': 'quota top-ups',
                        'db_table': 'chat_quotatopup',
                        'indexes': [models.Index(fields=['user', 'created_at'], name='chat_quotat_user_id_53223d_idx')],
                    },
                ),
                migrations.CreateModel(
                    name='UsageDay',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('day', models.DateField(verbose_name='day')),
                        ('model', models.CharField(max_length=200, verbose_name='model')),
                        ('kind', models.CharField(choices=[('chat', 'chat'), ('completion', 'completion'), ('embedding', 'embedding'), ('image', 'image'), ('speech', 'speech'), ('transcription', 'transcription'), ('translation', 'translation'), ('midjourney', 'Midjourney')], max_length=16, verbose_name='kind')),
                        ('calls', models.PositiveIntegerField(default=0, verbose_name='calls')),
                        ('prompt_tokens', models.PositiveBigIntegerField(default=0, verbose_name='prompt tokens')),
                        ('completion_tokens', models.PositiveBigIntegerField(default=0, verbose_name='completion tokens')),
                        ('total_tokens', models.PositiveBigIntegerField(default=0, verbose_name='total tokens')),
                        ('cost', usage.fields.MoneyField(default=Decimal('0'), verbose_name='cost')),
                        ('unpriced_calls', models.PositiveIntegerField(default=0, verbose_name='unpriced calls')),
                        ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'verbose_name': 'usage per day',
                        'verbose_name_plural': 'usage per day',
                        'db_table': 'chat_usageday',
                        'indexes': [models.Index(fields=['day'], name='chat_usaged_day_aa9b2b_idx')],
                        'constraints': [models.UniqueConstraint(fields=('user', 'day', 'model', 'kind'), name='one_usage_day')],
                    },
                ),
                migrations.CreateModel(
                    name='UsageRecord',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('kind', models.CharField(choices=[('chat', 'chat'), ('completion', 'completion'), ('embedding', 'embedding'), ('image', 'image'), ('speech', 'speech'), ('transcription', 'transcription'), ('translation', 'translation'), ('midjourney', 'Midjourney')], max_length=16, verbose_name='kind')),
                        ('model', models.CharField(max_length=200, verbose_name='model')),
                        ('prompt_tokens', models.PositiveIntegerField(default=0, verbose_name='prompt tokens')),
                        ('completion_tokens', models.PositiveIntegerField(default=0, verbose_name='completion tokens')),
                        ('total_tokens', models.PositiveIntegerField(default=0, verbose_name='total tokens')),
                        ('units', models.DecimalField(decimal_places=4, default=Decimal('0'), max_digits=14, verbose_name='units')),
                        ('variant', models.CharField(blank=True, max_length=100, verbose_name='variant')),
                        ('cost', usage.fields.MoneyField(blank=True, null=True, verbose_name='cost')),
                        ('estimated', models.BooleanField(default=False, verbose_name='estimated')),
                        ('succeeded', models.BooleanField(default=True, verbose_name='succeeded')),
                        ('duration_ms', models.PositiveIntegerField(default=0, verbose_name='duration (ms)')),
                        ('created_at', models.DateTimeField(db_index=True, default=django.utils.timezone.now, verbose_name='time')),
                        ('conversation', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, to='chat.conversation')),
                        ('message', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, to='chat.message')),
                        ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='usage_records', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'verbose_name': 'usage record',
                        'verbose_name_plural': 'usage records',
                        'db_table': 'chat_usagerecord',
                        'indexes': [models.Index(fields=['user', 'created_at'], name='chat_usager_user_id_146553_idx'), models.Index(fields=['model', 'created_at'], name='chat_usager_model_196929_idx')],
                    },
                ),
            ],
        ),
    ]
