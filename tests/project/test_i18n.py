"""Both catalogues are complete: every user-facing string has its Chinese."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"


def untranslated(po_text: str) -> list[str]:
    """msgids whose translation is empty or fuzzy (a small .po reader, enough for our files)."""
    missing = []
    for block in po_text.split("\n\n"):
        if "msgid" not in block or block.lstrip().startswith('msgid ""\nmsgstr ""\n"Project'):
            continue
        msgid = "".join(re.findall(r'^(?:msgid|msgid_plural)? ?"(.*)"$', block.split("msgstr")[0], re.M))
        if not msgid:
            continue
        strs = "".join(re.findall(r'"(.*)"$', "msgstr".join(block.split("msgstr")[1:]), re.M))
        if not strs or "#, fuzzy" in block:
            missing.append(msgid)
    return missing


def test_the_chinese_catalogue_has_every_entry_translated():
    assert untranslated(PO.read_text()) == []


@pytest.mark.skipif(not shutil.which("xgettext"), reason="needs gettext (make system-deps)")
def test_no_string_in_the_code_is_missing_from_the_catalogue(tmp_path):
    for name in [
        "manage.py",
        "lib",
        "aitre_web",
        "accounts",
        "aitre",
        "usage",
        "files",
        "chat",
        "images",
        "audio",
        "midjourney",
        "jobs",
        "search",
        "playground",
        "transfer",
        "sharing",
        "templates",
        "locale",
    ]:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, tmp_path / name)
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "zh_Hans"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "DEBUG": "1", "DJANGO_SETTINGS_MODULE": "aitre_web.settings"},
    )
    assert untranslated((tmp_path / PO.relative_to(ROOT)).read_text()) == []


@pytest.mark.skipif(not shutil.which("msgfmt"), reason="needs gettext (make system-deps)")
def test_the_compiled_catalogue_is_up_to_date(tmp_path):
    subprocess.run(["msgfmt", "-o", str(tmp_path / "django.mo"), str(PO)], check=True, timeout=60)
    assert (tmp_path / "django.mo").read_bytes() == PO.with_suffix(".mo").read_bytes()


def test_pages_follow_the_browsers_language(alice_client):
    page = alice_client.get("/", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9").content.decode()
    assert "新对话" in page and "发送" in page
    page = alice_client.get("/", HTTP_ACCEPT_LANGUAGE="en-US").content.decode()
    assert "New chat" in page


def test_api_errors_are_translated_too(alice_client, conversation, fake):
    fake.script("500")
    alice_client.post(f"/c/{conversation.pk}/send", {"text": "你好"}, HTTP_ACCEPT_LANGUAGE="zh-CN")
    page = alice_client.get(f"/c/{conversation.pk}/", HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert "API 出错（500）" in page
