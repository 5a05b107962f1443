"""The upload limits in force: the admin's row, read once every few seconds per process."""

from .models import UploadPolicy

current = UploadPolicy.current
forget = UploadPolicy.forget
