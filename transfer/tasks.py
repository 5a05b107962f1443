"""The worker's jobs (Django's tasks framework, run by ``manage.py worker``)."""

from django.tasks import task

from . import archive, importing
from .models import Export, Import


@task(queue_name="exports")
def build_export(export_id: str) -> None:
    export = Export.objects.filter(pk=export_id).select_related("owner").first()
    if export is not None:
        archive.build(export)


@task(queue_name="imports")
def run_import(import_id: str) -> None:
    record = Import.objects.filter(pk=import_id).select_related("owner").first()
    if record is not None:
        importing.run(record)
