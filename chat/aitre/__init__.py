"""
The one place that talks to the AITRE API (or any OpenAI-compatible server).

Views and models never build HTTP requests; this package never touches the
ORM. Everything that goes wrong comes out as an ``AitreError``.
"""

from .client import AitreClient, ChatResult, ChatStream, ModelInfo
from .errors import AitreError

__all__ = ["AitreClient", "AitreError", "ChatResult", "ChatStream", "ModelInfo"]
