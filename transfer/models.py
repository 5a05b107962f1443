from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from jobs.models import WorkerJob, WorkerJobQuerySet


def _archive_name(export: "Export", filename: str) -> str:
    # Nothing guessable: the owner's number and the export's own id.
    return f"exports/{export.owner_id}/{export.pk.hex}.zip"


class Export(WorkerJob):
    """Everything of one user's, as one zip built by the worker (transfer.archive)."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        BUILDING = "building", _("being built")
        READY = "ready", _("ready")
        FAILED = "failed", _("failed")

    RUNNING = Status.BUILDING

    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.QUEUED)
    archive = models.FileField(_("archive"), upload_to=_archive_name, max_length=255, blank=True)
    size = models.PositiveBigIntegerField(_("size (bytes)"), null=True, blank=True)
    conversations = models.PositiveIntegerField(_("conversations"), default=0)
    files = models.PositiveIntegerField(_("files"), default=0)

    objects = WorkerJobQuerySet["Export"].as_manager()

    class Meta(WorkerJob.Meta):
        verbose_name = _("export")
        verbose_name_plural = _("exports")

    def get_absolute_url(self) -> str:
        return reverse("transfer:download", args=[self.pk])

    def stale_error(self) -> str:
        return gettext("The export was interrupted; ask for another.")

    @property
    def download_name(self) -> str:
        return f"aitre-export-{timezone.localtime(self.created_at):%Y-%m-%d}.zip"

    def delete_with_archive(self) -> None:
        if self.archive:
            self.archive.delete(save=False)
        self.delete()


def _upload_name(record: "Import", filename: str) -> str:
    # As uploaded: a zip (with its pictures) or the JSON alone.
    return f"imports/{record.owner_id}/{record.pk.hex}{'.zip' if filename.endswith('.zip') else '.json'}"


class Import(WorkerJob):
    """
    A file being imported: its size and shape checked in the request, then
    read, planned and written by the worker, a chunk of conversations a
    transaction (transfer.importing); ``conversations`` counts those written
    so far while it runs. The file is kept in storage only until then.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        IMPORTING = "importing", _("importing")
        DONE = "done", _("imported")
        FAILED = "failed", _("failed")
        CANCELLED = "cancelled", _("cancelled")

    RUNNING = Status.IMPORTING

    name = models.CharField(_("file name"), max_length=255)
    source = models.CharField(_("format"), max_length=32)
    upload = models.FileField(_("file"), upload_to=_upload_name, max_length=255, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.QUEUED)
    conversations = models.PositiveIntegerField(_("conversations"), default=0)
    messages = models.PositiveIntegerField(_("messages"), default=0)
    files = models.PositiveIntegerField(_("files"), default=0)
    # What was left out, by reason (in the importing user's language): {"tool messages": 3}.
    skipped = models.JSONField(_("not imported"), default=dict, blank=True)
    # Each conversation left out and why, and what was cleaned where: lines for the page.
    notes = models.JSONField(_("notes"), default=list, blank=True)
    # The language of the person who imported it: the worker writes its report in it.
    language = models.CharField(max_length=16, blank=True, editable=False)

    objects = WorkerJobQuerySet["Import"].as_manager()

    class Meta(WorkerJob.Meta):
        verbose_name = _("import")
        verbose_name_plural = _("imports")

    def skipped_lines(self) -> list[str]:
        return [f"{reason}: {count}" for reason, count in sorted(self.skipped.items())]

    def cancel(self) -> bool:
        """
        Stop it: a queued import never starts; a running one is rolled back by
        its worker at its next step (and when it has already written, at its
        commit, which checks this). False when it had already ended.
        """
        stopped = Import.objects.filter(pk=self.pk, status__in=[self.Status.QUEUED, self.Status.IMPORTING]).update(
            status=self.Status.CANCELLED, finished_at=timezone.now()
        )
        if stopped and self.status == self.Status.QUEUED:
            Import.objects.filter(pk=self.pk).update(**self.forget_files())
        return bool(stopped)

    def stale_error(self) -> str:
        """
        Its worker died mid-way: how far it got (whole conversations are
        written a chunk at a time, and importing the file again brings the
        rest: what came in is recognised).
        """
        if self.conversations:
            return ngettext(
                "The import was interrupted (its worker stopped) after %(count)s conversation. "
                "Import the file again to bring in the rest: what came in already is recognised.",
                "The import was interrupted (its worker stopped) after %(count)s conversations. "
                "Import the file again to bring in the rest: what came in already is recognised.",
                self.conversations,
            ) % {"count": self.conversations}
        return gettext("The import was interrupted (its worker stopped); nothing was written.")

    def forget_files(self) -> dict[str, str]:
        """The file is not kept once it is written (or could not be): it is the user's history."""
        if self.upload:
            self.upload.delete(save=False)
        return {"upload": ""}
