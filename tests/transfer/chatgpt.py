"""A ChatGPT ``conversations.json`` as the export writes it: a mapping of nodes, branches as children."""

from typing import Any

T0 = 1_700_000_000.0


def node(node_id: str, parent: str | None, children: list[str], message: dict[str, Any] | None) -> dict[str, Any]:
    return {"id": node_id, "message": message, "parent": parent, "children": children}


def message(
    node_id: str, role: str, parts: list[Any], at: float, *, model: str = "", kind: str = "text", **metadata: Any
) -> dict[str, Any]:
    if model:
        metadata["model_slug"] = model
    return {
        "id": node_id,
        "author": {"role": role, "name": None, "metadata": {}},
        "create_time": T0 + at,
        "update_time": None,
        "content": {"content_type": kind, "parts": parts},
        "status": "finished_successfully",
        "end_turn": True,
        "weight": 1.0,
        "metadata": metadata,
        "recipient": "all",
    }


def export() -> list[dict[str, Any]]:
    """
    One conversation: a hidden system root, a question answered twice
    (regenerated: two versions), an edited question (a second version of the
    question), a tool call between a reply and its continuation, and a
    question with a picture. The second conversation is plain.
    """
    mapping = {
        "root": node("root", None, ["sys"], None),
        "sys": node(
            "sys", "root", ["u1", "u1b"], message("sys", "system", [""], 0, is_visually_hidden_from_conversation=True)
        ),
        "u1": node("u1", "sys", ["a1", "a1b"], message("u1", "user", ["What is 2+2?"], 1)),
        "a1": node(
            "a1", "u1", [], message("a1", "assistant", ["It is 4."], 2, model="gpt-4", finish_details={"type": "stop"})
        ),
        "a1b": node("a1b", "u1", ["u2"], message("a1b", "assistant", ["Four, of course."], 3, model="gpt-4o")),
        "u2": node(
            "u2",
            "a1b",
            ["a2"],
            message(
                "u2",
                "user",
                ["Look it up", {"content_type": "image_asset_pointer", "asset_pointer": "file-service://file-Sky1"}],
                4,
                kind="multimodal_text",
            ),
        ),
        "a2": node("a2", "u2", ["tool"], message("a2", "assistant", ["Searching."], 5, model="gpt-4o")),
        "tool": node("tool", "a2", ["a3"], message("tool", "tool", ["{results}"], 6)),
        "a3": node("a3", "tool", [], message("a3", "assistant", ["It is 4, say the sources."], 7, model="gpt-4o")),
        "u1b": node("u1b", "sys", ["a4"], message("u1b", "user", ["What is 3+3?"], 8)),
        "a4": node("a4", "u1b", [], message("a4", "assistant", ["6."], 9, model="gpt-4o-mini")),
    }
    plain = {
        "r": node("r", None, ["q"], None),
        "q": node("q", "r", ["a"], message("q", "user", ["你好"], 20)),
        "a": node("a", "q", [], message("a", "assistant", ["你好！有什么可以帮你？"], 21, model="gpt-4o")),
    }
    return [
        {
            "title": "Arithmetic",
            "create_time": T0,
            "update_time": T0 + 9,
            "mapping": mapping,
            "current_node": "a3",
            "id": "c1",
            "conversation_id": "c1",
        },
        {
            "title": "",
            "create_time": T0 + 20,
            "update_time": T0 + 21,
            "mapping": plain,
            "current_node": "a",
            "id": "c2",
            "conversation_id": "c2",
        },
    ]
