"""
The one place that talks to the AITRE API (or any OpenAI-compatible server).

One module per endpoint family, each a small class over ``BaseClient`` (the
session, timeouts, key redaction and the status → error table);
``AitreClient`` is all of them together. Views and models never build HTTP
requests; this package never touches the ORM. Everything that goes wrong
comes out as an ``AitreError``.
"""

from .audio import AudioEndpoints, Segment, Speech, Transcript
from .base import BaseClient, Call, cancellable
from .chat import ChatCompletions, ChatResult, ChatStream, Usage
from .completions import CompletionEndpoints, CompletionResult, CompletionStream
from .embeddings import Embedded, EmbeddingEndpoints
from .errors import AitreError
from .images import GeneratedImage, ImageGeneration, ImagesResult
from .listing import ModelInfo, ModelListing
from .midjourney import FetchedTask, MidjourneyEndpoints, Submitted


class AitreClient(
    ChatCompletions,
    CompletionEndpoints,
    EmbeddingEndpoints,
    ImageGeneration,
    AudioEndpoints,
    MidjourneyEndpoints,
    ModelListing,
    BaseClient,
):
    """Every endpoint family the site uses, over one transport."""


__all__ = [
    "AitreClient",
    "AitreError",
    "BaseClient",
    "Call",
    "ChatResult",
    "ChatStream",
    "CompletionResult",
    "CompletionStream",
    "Embedded",
    "FetchedTask",
    "GeneratedImage",
    "ImagesResult",
    "ModelInfo",
    "Segment",
    "Speech",
    "Submitted",
    "Transcript",
    "Usage",
    "cancellable",
]
