"""Every variable the settings read is documented in the README and in .env.example."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def variables_read() -> set[str]:
    settings = (ROOT / "aitre_web" / "settings.py").read_text()
    gunicorn = (ROOT / "aitre_web" / "gunicorn.conf.py").read_text()
    names = set(re.findall(r'env(?:\.\w+)?\(\s*"([A-Z_]+)"', settings))
    names |= set(re.findall(r"""os\.environ\.get\(\s*["']([A-Z_]+)["']""", gunicorn))
    return names


def test_the_settings_read_what_we_expect():
    assert {"DEBUG", "SECRET_KEY", "DATABASE_URL", "AITRE_BASE_URL", "AITRE_API_KEY", "PORT"} <= variables_read()


def test_every_variable_is_in_the_readme_and_the_example():
    readme = (ROOT / "README.md").read_text()
    example = (ROOT / ".env.example").read_text()
    assert sorted(name for name in variables_read() if f"`{name}`" not in readme and name not in readme) == []
    assert sorted(name for name in variables_read() if name not in example) == []
