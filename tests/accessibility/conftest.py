"""What the accessibility tests share: a conversation with versions, a table and highlighted code."""

import pytest

from accounts.models import User
from chat.models import Conversation, Message
from chat.rendering import render_markdown

REPLY = """Here is a table and some code:

| Model | Tokens |
|-------|--------|
| gpt-4o-mini | 12 |

```python
def greet(name: str) -> str:
    # Say hello.
    return f"Hello, {name}!"  # 42
```
"""


@pytest.fixture
def chat_with_history(alice: User) -> Conversation:
    conversation = Conversation.objects.create(owner=alice, model="gpt-4o-mini", title="Colours")
    question = Message.objects.create(conversation=conversation, role="user", content="Show me a table and code")
    first = Message.objects.create(
        conversation=conversation, parent=question, role="assistant", content="An older version.", model="gpt-4o-mini"
    )
    reply = Message.objects.create(
        conversation=conversation,
        parent=question,
        role="assistant",
        content=REPLY,
        rendered=render_markdown(REPLY),
        model="gpt-4o-mini",
        prompt_tokens=10,
        completion_tokens=30,
        total_tokens=40,
    )
    assert first.pk < reply.pk
    conversation.current_leaf = reply
    conversation.save()
    return conversation
