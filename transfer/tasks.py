"""The worker's jobs (Django's tasks framework, run by ``manage.py worker``)."""

from django.tasks import task

from . import archive
from .models import Export


@task()
def build_export(export_id: str) -> None:
    export = Export.objects.filter(pk=export_id).select_related("owner").first()
    if export is not None:
        archive.build(export)
