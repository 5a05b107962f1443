"""The code map in docs/architecture.md names every module of every app, and nothing that is not there."""

import re
from pathlib import Path

from tests.project.test_layers import LAYER_OF

ROOT = Path(__file__).resolve().parents[2]
# Every app has these; the map names what is particular to each.
BOILERPLATE = {"__init__.py", "apps.py", "urls.py"}


def _code_map() -> str:
    text = (ROOT / "docs/architecture.md").read_text()
    start = text.index("## Code map")
    return text[text.index("```", start) + 3 : text.index("```", text.index("```", start) + 3)]


def _blocks() -> dict[str, str]:
    """Each app's lines of the map: from its ``app/`` line to the next top-level one."""
    blocks: dict[str, str] = {}
    current = None
    for line in _code_map().splitlines():
        if match := re.match(r"([a-z_]+)/\s", line + " "):
            current = match.group(1)
            blocks[current] = line
        elif current is not None:
            blocks[current] += "\n" + line
    return blocks


def test_every_app_has_a_place_in_the_map():
    assert set(LAYER_OF) <= set(_blocks())


def test_the_map_names_every_module_and_only_modules_that_exist():
    blocks = _blocks()
    for app in LAYER_OF:
        modules = {path.name for path in (ROOT / app).glob("*.py")} - BOILERPLATE
        packages = {path.parent.name for path in (ROOT / app).glob("*/__init__.py")} - {"migrations"}
        anywhere = {path.name for path in (ROOT / app).rglob("*.py") if "migrations" not in path.parts}
        named = set(re.findall(r"\b([a-z_][a-z_.]*\.py)\b", blocks[app])) - {"manage.py"}
        assert modules - named == set(), f"{app}/: modules missing from the code map"
        # Modules of a package (aitre/client/) are named in its entry too.
        assert named - anywhere == set(), f"{app}/: the code map names modules that are not there"
        for package in packages:
            assert f"{package}/" in blocks[app], f"{app}/{package}/ is missing from the code map"
