"""The upload limits in force: the admin's row, read once every few seconds per process."""

from lib.remembered import RememberedRow

from .models import UploadPolicy

_policy = RememberedRow(UploadPolicy)
current = _policy.current
forget = _policy.forget
