"""
Reading an import's file: the JSON out of its zip, parsed, and planned by
its format's reader (this site's, ``transfer.ours``; ChatGPT's,
``transfer.chatgpt``) into the plans of ``transfer.plans``.
"""

import json
import zipfile
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from . import chatgpt, documents, ours
from .plans import ImportProblem, Plan

ZIPPED_NAME = "conversations.json"


def limit() -> int:
    return int(settings.IMPORT_MAX_MB * 1024 * 1024)


def _megabytes(size: int) -> str:
    # Never "50.0 MB" for a file just over 50 MB: enough digits to differ from the limit.
    return f"{size / 1024 / 1024:.2f}".rstrip("0").rstrip(".")


def too_large(size: int) -> ImportProblem:
    return ImportProblem(
        _("The file is %(size)s MB; an import takes files of at most %(limit)s MB.")
        % {"size": _megabytes(size), "limit": settings.IMPORT_MAX_MB}
    )


def unpacks_too_large(size: int | None) -> ImportProblem:
    return ImportProblem(
        _(
            "The zip's conversations.json unpacks to %(size)s MB; an import reads at most %(limit)s MB of "
            "conversations (the zip itself may be smaller: text compresses well)."
        )
        % {
            "size": _megabytes(size) if size is not None else f"> {settings.IMPORT_MAX_MB}",
            "limit": settings.IMPORT_MAX_MB,
        }
    )


def read_json(archive: zipfile.ZipFile | None, raw: bytes) -> bytes:
    """The JSON bytes: ``raw`` itself, or the zip's conversations.json, within the bound (a zip may lie)."""
    if archive is None:
        return raw
    try:
        with archive.open(ZIPPED_NAME) as handle:
            data = handle.read(limit() + 1)
    except KeyError:
        raise ImportProblem(_("The zip has no conversations.json at its top.")) from None
    except (zipfile.BadZipFile, OSError, EOFError):
        raise ImportProblem(_("The zip is damaged.")) from None
    if len(data) > limit():
        raise unpacks_too_large(None)
    return data


def parse(raw: bytes) -> Any:
    try:
        return json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise ImportProblem(_("The file is not text (UTF-8): is it the right file?")) from None
    except RecursionError:
        raise ImportProblem(_("The file's JSON is nested too deeply to be a conversation.")) from None
    except json.JSONDecodeError as error:
        raise ImportProblem(
            _("The file is not valid JSON: line %(line)s, column %(column)s: %(problem)s.")
            % {"line": error.lineno, "column": error.colno, "problem": error.msg}
        ) from None


def plan(data: Any, assets: dict[str, str] | None = None) -> Plan:
    """
    Which format ``data`` is, and its conversations, each checked on its
    own; ImportProblem when nothing in it is a conversation or it is past
    the bounds. ``assets``: ChatGPT's files in its zip, by id.
    """
    if isinstance(data, dict) and data.get("schema") in (documents.SCHEMA, documents.EXPORT_SCHEMA):
        return ours.plan(data)
    if isinstance(data, list) and any(chatgpt.is_conversation(item) for item in data):
        return chatgpt.plan(data, assets or {})
    if chatgpt.is_conversation(data):
        return chatgpt.plan([data], assets or {})
    raise ImportProblem(
        _("This is neither an export of this site (a JSON file with a “schema”) nor ChatGPT's conversations.json.")
    )
