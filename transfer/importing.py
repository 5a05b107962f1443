"""
Importing conversations: this site's export (its zip, with the pictures,
recordings, transcripts and settings it holds, or a conversation's JSON) and
ChatGPT's (its zip, pictures included, or the conversations.json inside).

The request does only what is cheap (``queue``): the size, and for a zip,
that it opens and holds a conversations.json within the bound. It keeps the
file and answers; the worker (its ``imports`` queue, so no other job waits
behind a long import) does the rest in ``run``: reads and plans the JSON,
restores the files, writes whole conversations a few thousand messages a
transaction (all or nothing for the person: anything that stops it deletes
what it wrote), then has search index what came in at once
(``chat.signals.conversations_imported``).

Imports forgive bad parts and say what they left out:
- a conversation that cannot be read is left out, named, with the reason
  (``Import.notes``); the file is refused whole only when nothing in it is a
  conversation, or it is past the bounds;
- text no database stores (NUL, an unpaired surrogate) becomes U+FFFD, and
  the note says in which conversation;
- a conversation imported before (ChatGPT's conversation id, our export's
  ``key``: ``Conversation.import_key``) is skipped and counted, and a file
  kept from the same export before is linked again, not copied;
- a picture that cannot be brought in leaves a visible line in its message.

Bounds: the upload's size (``IMPORT_MAX_MB``, also what a zip's
``conversations.json`` unpacks to), how many conversations and messages it
may hold, how long one message may be.

The file is read and planned by ``transfer.reading`` and written by
``transfer.writing``; this module is the import from the request to the
worker's end of it.
"""

import zipfile
from typing import Any

from django.core.files import File
from django.db import transaction
from django.tasks import task
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import User
from chat.models import Conversation
from chat.signals import conversations_imported

from . import restoring
from .models import Import
from .plans import ImportProblem, storable
from .reading import ZIPPED_NAME, limit, parse, plan, read_json, too_large, unpacks_too_large
from .writing import drop_duplicates, restore_pictures, save


class Cancelled(Exception):
    """The person cancelled the import while it ran: everything it did is undone."""


def inspect(upload: Any) -> bool:
    """
    The cheap checks, in the request: the size, and for a zip (True), that it
    opens and holds a conversations.json that unpacks within the bound (from
    its directory: nothing is unpacked here). Raises ImportProblem.
    """
    if upload.size > limit():
        raise too_large(upload.size)
    upload.seek(0)
    is_zip = upload.read(4) == b"PK\x03\x04"
    upload.seek(0)
    if not is_zip:
        return False
    try:
        with zipfile.ZipFile(upload) as archive:
            member = archive.getinfo(ZIPPED_NAME)
    except KeyError:
        raise ImportProblem(_("The zip has no conversations.json at its top.")) from None
    except (zipfile.BadZipFile, OSError, EOFError):
        raise ImportProblem(_("The zip is damaged.")) from None
    finally:
        upload.seek(0)
    if member.file_size > limit():
        raise unpacks_too_large(member.file_size)
    return True


def queue(owner: User, upload: Any) -> Import:
    """Check what is cheap now (a bad file is refused in the request), keep the file, leave the rest to the worker."""
    is_zip = inspect(upload)
    record = Import(
        owner=owner,
        name=storable(str(getattr(upload, "name", "") or ""))[:255],
        language=translation.get_language() or "",
    )
    record.upload.save("import.zip" if is_zip else "import.json", File(upload), save=False)
    record.save()
    run_import.enqueue(str(record.pk))
    return record


@task(queue_name="imports")
def run_import(import_id: str) -> None:
    """The worker's job, on the ``imports`` queue."""
    record = Import.objects.filter(pk=import_id).select_related("owner").first()
    if record is not None:
        run(record)


def run(record: Import) -> None:
    """
    The worker's part: the kept file read, planned, its files restored and
    its conversations written, all of them or none; then search is told. A
    cancel is heard between steps and between chunks, and at the end, in the
    transaction that ends it: after it, nothing of the import stays.
    """
    if not record.claim():
        return
    with translation.override(record.language or None):
        _run(record)


def _run(record: Import) -> None:
    restored = restoring.Restored()
    # What this import wrote: deleted again by anything that stops it from ending as done.
    written: list[Conversation] = []

    def still_wanted() -> None:
        if not Import.objects.filter(pk=record.pk, status=Import.Status.IMPORTING).exists():
            raise Cancelled

    def progressed(count: int) -> None:
        """How far it has got, for the page; and a cancel, heard between two chunks."""
        if not Import.objects.filter(pk=record.pk, status=Import.Status.IMPORTING).update(conversations=count):
            raise Cancelled

    def undo() -> None:
        Conversation.objects.filter(pk__in=[c.pk for c in written]).delete()
        restored.undo()

    try:
        with record.beating(), record.upload.open("rb") as handle:
            archive = zipfile.ZipFile(handle) if (record.upload.name or "").endswith(".zip") else None
            try:
                found = plan(
                    parse(read_json(archive, b"" if archive else handle.read())), restoring.chatgpt_assets(archive)
                )
                found.check_something_is_left()
                drop_duplicates(record.owner, found)
                ours = archive if found.source == "aitre-web" else None
                if ours is not None:
                    restoring.our_files(record.owner, ours, restored)
                still_wanted()
                restore_pictures(record.owner, archive, found, restored)
                still_wanted()
                for path, problem in restored.problems.items():
                    found.notes.append(
                        _("A file was not imported: %(name)s: %(reason)s") % {"name": path, "reason": problem}
                    )
                report = save(record.owner, found.conversations, restored, between=progressed)
                written = report.written
                with transaction.atomic():
                    if ours is not None:
                        restoring.our_transcripts(record.owner, ours, restored)
                        restoring.our_settings(record.owner, ours)
                    # Done in the transaction that writes the transcripts: a cancel after it finds it ended.
                    if not Import.objects.filter(pk=record.pk, status=Import.Status.IMPORTING).update(
                        status=Import.Status.DONE,
                        source=found.source,
                        conversations=report.conversations,
                        messages=report.messages,
                        files=len(restored.made),
                        skipped={storable(reason): count for reason, count in found.skipped.items()},
                        notes=[storable(note) for note in found.notes[:200]],
                        finished_at=timezone.now(),
                    ):
                        raise Cancelled
            finally:
                if archive is not None:
                    archive.close()
    except Cancelled:
        undo()
        Import.objects.filter(pk=record.pk).update(**record.forget_files())
        return
    except ImportProblem as problem:
        undo()
        record.fail(storable(str(problem)))
        return
    except Exception as error:
        undo()
        record.fail(storable(str(error)) or type(error).__name__)
        raise
    Import.objects.filter(pk=record.pk).update(**record.forget_files())
    conversations_imported.send(sender=Conversation, owner_id=record.owner_id, conversations=report.written)
