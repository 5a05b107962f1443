"""
Credentials and model settings move here from chat: the rows stay where they
are (the tables keep their names); only Django's idea of their app changes.
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("chat", "0003_privacy_and_submits"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name='ModelSetting',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.CharField(max_length=200, unique=True, verbose_name='model id')),
                        ('label', models.CharField(blank=True, max_length=200, verbose_name='display name')),
                        ('offered', models.BooleanField(default=True, help_text='Unticked models are hidden even when the API lists them. Ticked models are offered even when it does not.', verbose_name='offered to users')),
                        ('is_default', models.BooleanField(default=False, verbose_name='default model')),
                        ('max_tokens', models.PositiveIntegerField(blank=True, help_text='Blank: the site default.', null=True, verbose_name='max output tokens')),
                        ('context_tokens', models.PositiveIntegerField(blank=True, help_text='Blank: the site default.', null=True, verbose_name='context budget (tokens)')),
                    ],
                    options={
                        'verbose_name': 'model setting',
                        'verbose_name_plural': 'model settings',
                        'db_table': 'chat_modelsetting',
                        'ordering': ['name'],
                        'constraints': [models.UniqueConstraint(condition=models.Q(('is_default', True)), fields=('is_default',), name='one_default_model')],
                    },
                ),
                migrations.CreateModel(
                    name='Credential',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.CharField(blank=True, max_length=100, verbose_name='name')),
                        ('base_url', models.URLField(blank=True, help_text='For example https://api.example.com, without /v1.', verbose_name='base URL')),
                        ('encrypted_key', models.TextField(editable=False)),
                        ('key_last4', models.CharField(editable=False, max_length=4, verbose_name='key ends with')),
                        ('is_active', models.BooleanField(default=True, verbose_name='active')),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='created')),
                        ('updated_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='updated')),
                        ('user', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='credentials', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'verbose_name': 'API credential',
                        'verbose_name_plural': 'API credentials',
                        'db_table': 'chat_credential',
                        'constraints': [models.UniqueConstraint(condition=models.Q(('user__isnull', False)), fields=('user',), name='one_personal_key_per_user')],
                    },
                ),
            ],
        ),
    ]
