"""
The move of the ledger and the API's models
out of chat keeps every row (and every permission granted on them).
"""

from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

# The last state before the ledger, credentials and model settings left chat.
BEFORE_THE_MOVE = [
    ("accounts", "0001_initial"),
    ("chat", "0003_privacy_and_submits"),
    ("aitre", None),
    ("usage", None),
]


def _migrate(targets: list[tuple[str, str | None]]):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state([target for target in targets if target[1]]).apps


def _latest() -> list[tuple[str, str | None]]:
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes()


@pytest.mark.django_db(transaction=True)
def test_moving_models_between_apps_keeps_every_row():
    old = _migrate(BEFORE_THE_MOVE)
    User = old.get_model("accounts", "User")
    alice = User.objects.create(username="alice")
    auditor = User.objects.create(username="auditor", is_staff=True)
    ContentType = old.get_model("contenttypes", "ContentType")
    Permission = old.get_model("auth", "Permission")
    record_type, _ = ContentType.objects.get_or_create(app_label="chat", model="usagerecord")
    may_view, _ = Permission.objects.get_or_create(
        content_type=record_type, codename="view_usagerecord", defaults={"name": "Can view usage record"}
    )
    auditor.user_permissions.add(may_view)

    Conversation = old.get_model("chat", "Conversation")
    Message = old.get_model("chat", "Message")
    chat = Conversation.objects.create(owner=alice, model="gpt-4o-mini", title="Kept")
    question = Message.objects.create(conversation=chat, role="user", content="Hello")
    reply = Message.objects.create(conversation=chat, parent=question, role="assistant", content="Hi", total_tokens=9)
    Conversation.objects.filter(pk=chat.pk).update(current_leaf=reply)
    now = timezone.now()
    record = old.get_model("chat", "UsageRecord").objects.create(
        user=alice,
        kind="chat",
        model="gpt-4o-mini",
        conversation=chat,
        message=reply,
        prompt_tokens=5,
        completion_tokens=4,
        total_tokens=9,
        cost=Decimal("0.000123"),
        created_at=now,
    )
    unlinked = old.get_model("chat", "UsageRecord").objects.create(
        user=alice, kind="chat", model="gpt-4o", total_tokens=3, created_at=now
    )
    old.get_model("chat", "UsageDay").objects.create(
        day=now.date(), user=alice, model="gpt-4o-mini", kind="chat", calls=1, total_tokens=9
    )
    old.get_model("chat", "Price").objects.create(model="gpt-4o-mini", input_price=Decimal("0.15"))
    old.get_model("chat", "Quota").objects.create(measure="tokens", period="month", token_limit=1000)
    old.get_model("chat", "QuotaTopUp").objects.create(user=alice, tokens=50, created_at=now)
    old.get_model("chat", "Credential").objects.create(base_url="https://api.example.com", encrypted_key="x")
    old.get_model("chat", "ModelSetting").objects.create(name="text-embedding-3-large", max_tokens=100)

    new = _migrate(_latest())

    assert new.get_model("chat", "Message").objects.get(pk=reply.pk).content == "Hi"
    assert new.get_model("chat", "Conversation").objects.get(pk=chat.pk).current_leaf_id == reply.pk
    records = {r.pk: r for r in new.get_model("usage", "UsageRecord").objects.all()}
    kept = records[record.pk]
    assert (kept.total_tokens, kept.cost, kept.created_at) == (9, Decimal("0.000123"), now)
    conversation_type = new.get_model("contenttypes", "ContentType").objects.get(app_label="chat", model="conversation")
    assert (kept.subject_type_id, kept.subject_id) == (conversation_type.pk, chat.pk), "the conversation it was for"
    assert (records[unlinked.pk].subject_type_id, records[unlinked.pk].subject_id) == (None, None)
    assert new.get_model("usage", "UsageDay").objects.get().total_tokens == 9
    assert new.get_model("usage", "Price").objects.get().input_price == Decimal("0.15")
    assert new.get_model("usage", "Quota").objects.get().token_limit == 1000
    assert new.get_model("usage", "QuotaTopUp").objects.get().tokens == 50
    assert new.get_model("aitre", "Credential").objects.get().base_url == "https://api.example.com"
    setting = new.get_model("aitre", "ModelSetting").objects.get()
    assert (setting.max_tokens, setting.capabilities, setting.discovered) == (100, ["embeddings"], False)

    from accounts.models import User as CurrentUser

    assert CurrentUser.objects.get(pk=auditor.pk).has_perm("usage.view_usagerecord"), "granted permissions follow"
