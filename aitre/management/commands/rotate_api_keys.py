from django.core.management.base import BaseCommand

from aitre import crypto
from aitre.models import Credential


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored API key with the first of FIELD_ENCRYPTION_KEYS. "
        "Run it after prepending a new key; then the old key can be removed."
    )

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        rotated = 0
        for credential in Credential.objects.all():
            credential.encrypted_key = crypto.rotate(credential.encrypted_key)
            credential.save(update_fields=["encrypted_key"])
            rotated += 1
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {rotated} stored key(s)."))
