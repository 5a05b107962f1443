"""
A small history written for the search tests: conversations whose questions
and answers use different words for the same things (the fake API's
thesaurus knows they are the same, see tests/fake_aitre/embeddings.py).
"""

from chat.models import Conversation, Message
from search import indexing

CAR_QUESTION = "My automobile makes a rattling sound whenever I accelerate uphill."
CAR_ANSWER = "That clunk is most likely a worn motor mount; a mechanic can replace it in an hour."
PASTA_QUESTION = "What should I cook tonight?"
PASTA_ANSWER = "Try spaghetti aglio e olio: garlic, olive oil, chili flakes and parsley."
WHALE_SCATTERED = "The song of the humpback is long, but a blue whale is louder than any other animal."
WHALE_EXACT = "Researchers recorded a blue whale song off the coast of Sri Lanka last spring."
CHINESE_QUESTION = "我的汽车发动机有异响，怎么办？"
CHINESE_ANSWER = "可能是发动机支架老化了，建议尽快去维修店检查。"


def conversation_of(owner, title: str, *texts: str) -> tuple[Conversation, list[Message]]:
    """A conversation of alternating questions and replies, indexed as chat would (passages, no vectors yet)."""
    conversation = Conversation.objects.create(owner=owner, model="gpt-4o-mini", title=title)
    messages: list[Message] = []
    for index, content in enumerate(texts):
        messages.append(
            Message.objects.create(
                conversation=conversation,
                parent=messages[-1] if messages else None,
                role="user" if index % 2 == 0 else "assistant",
                content=content,
            )
        )
    conversation.touch(current_leaf=messages[-1])
    indexing.capture(messages, owner.pk)
    indexing.capture_title(conversation)
    return conversation, messages


def alices_history(alice) -> dict[str, Conversation]:
    return {
        "car": conversation_of(alice, "Noise on the hill", CAR_QUESTION, CAR_ANSWER)[0],
        "pasta": conversation_of(alice, "Dinner", PASTA_QUESTION, PASTA_ANSWER)[0],
        "whales": conversation_of(alice, "Ocean facts", WHALE_SCATTERED, "Indeed.", WHALE_EXACT, "Amazing.")[0],
        "chinese": conversation_of(alice, "汽车问题", CHINESE_QUESTION, CHINESE_ANSWER)[0],
    }
