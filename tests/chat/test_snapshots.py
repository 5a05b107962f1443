"""Mid-stream snapshots render only what changed, and look exactly like the whole text rendered at once."""

from hypothesis import given, settings
from hypothesis import strategies as st

from chat import rendering
from chat.rendering import SnapshotRenderer, render_markdown

BLOCKS = [
    "A paragraph with **bold** and `code`.",
    "Two lines\nof one paragraph.",
    "# A heading",
    "Setext heading\n===",
    "Another one\n---",
    "- one\n- two",
    "- loose\n\n- list",
    "1. first\n2. second",
    "3. goes on",
    "  indented continuation",
    "    indented code",
    "```python\nprint(1)\n\n\nprint(2)\n```",
    "~~~\ncode with ``` inside\n~~~",
    "````\n```\nstill code\n````",
    "> quoted\nlazy line",
    "| a | b |\n|---|---|\n| 1 | 2 |",
    "a | b\n--|--\n1 | 2",
    "***",
    "Text with [a link](https://example.org) and ![an image](https://example.org/i.png)",
    "+ plus item",
    "<b>raw html stays text</b>",
]

texts = st.lists(st.sampled_from(BLOCKS), min_size=1, max_size=8).flatmap(
    lambda blocks: st.tuples(
        st.just(blocks), st.lists(st.sampled_from(["\n\n", "\n", "\n\n\n"]), min_size=len(blocks), max_size=len(blocks))
    )
)


@settings(max_examples=120, deadline=None)
@given(parts=texts, step=st.integers(min_value=1, max_value=9))
def test_every_snapshot_is_the_whole_text_rendered(parts, step):
    blocks, gaps = parts
    text = "".join(block + gap for block, gap in zip(blocks, gaps, strict=True))
    renderer = SnapshotRenderer()
    for end in [*range(0, len(text), step), len(text)]:
        assert renderer.render(text[:end]) == render_markdown(text[:end]), repr(text[:end])


def test_blocks_that_cannot_change_are_rendered_once(monkeypatch):
    rendered: list[str] = []
    real = rendering.render_markdown
    monkeypatch.setattr(rendering, "render_markdown", lambda text: rendered.append(text) or real(text))
    renderer = SnapshotRenderer()
    text = ""
    for i in range(200):
        text += f"Paragraph {i} says something.\n\n"
        renderer.render(text + "and the next one is com")
    # Each snapshot renders the newest paragraph and the growing tail, not the whole text.
    assert max(len(part) for part in rendered) < 100
    assert renderer.render(text) == real(text)


def test_a_text_with_reference_definitions_is_rendered_whole():
    renderer = SnapshotRenderer()
    text = "See [the docs][d].\n\nMore text.\n\n[d]: https://example.org\n"
    renderer.render("See [the docs][d].\n\nMore text.\n\n")
    assert renderer.render(text) == render_markdown(text)
    assert 'href="https://example.org"' in renderer.render(text)


def test_a_text_that_is_not_the_one_followed_starts_again():
    renderer = SnapshotRenderer()
    renderer.render("First paragraph.\n\nSecond.\n\nThird")
    assert renderer.render("Other.\n\nText") == render_markdown("Other.\n\nText")
