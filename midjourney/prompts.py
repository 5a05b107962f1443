"""
Prompts as Midjourney writes and reads them: the options written inline
(``--ar 16:9``, ``--v 6.1``, ``--niji 6``), and the numbered suggestions
that describe and shorten answer with.
"""

import re

# Describe numbers its four prompts with keycap emoji (1️⃣ … 4️⃣); shorten with the same, or "1." lists.
_NUMBERED = re.compile(r"^\s*(?:[1-9]\ufe0f?\u20e3|[1-9][.)])\s*", re.MULTILINE)
_OPTION = re.compile(r"(?:^|\s)--([a-z]+)(?:\s+([^\s-][^\s]*))?", re.IGNORECASE)


def suggestions(text: str) -> list[str]:
    """The numbered prompts in ``text``, each on its own; a text without numbers is one prompt."""
    if not text.strip():
        return []
    pieces = _NUMBERED.split(text)
    found = [" ".join(piece.split()) for piece in pieces[1:]] if len(pieces) > 1 else [" ".join(text.split())]
    return [piece for piece in found if piece]


def options_in(prompt: str) -> dict[str, str]:
    """The ``--name value`` options written in a prompt, by name (lower-cased)."""
    return {match.group(1).lower(): (match.group(2) or "") for match in _OPTION.finditer(prompt)}


def model_written(prompt: str) -> str:
    """
    The model a prompt names inline, which wins over the bot picked beside it:
    ``"niji"`` for ``--niji``, ``"midjourney"`` for ``--v`` or ``--version``, else "".
    """
    written = options_in(prompt)
    if "niji" in written:
        return "niji"
    return "midjourney" if "v" in written or "version" in written else ""


def with_options(prompt: str, *, aspect: str = "", version: str = "", niji: bool = False) -> str:
    """
    The prompt with the fields' options added, unless the prompt already says
    them inline (what the person typed wins over the fields).
    """
    written = options_in(prompt)
    parts = [prompt.strip()]
    if aspect and "ar" not in written and "aspect" not in written:
        parts.append(f"--ar {aspect}")
    if niji:
        if "niji" not in written:
            parts.append(f"--niji {version}".rstrip() if version else "--niji")
    elif version and "v" not in written and "version" not in written and "niji" not in written:
        parts.append(f"--v {version}")
    return " ".join(parts)
