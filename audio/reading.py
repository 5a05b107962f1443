"""
Reading a reply aloud. The reply's words (``speakable``) are cut into
pieces once; each piece's audio is made on the first listen, by one call
admitted by the quota and recorded in the ledger (per thousand characters),
and kept in the owner's files: every later listen plays the kept file and
makes no call.

The browser asks for the pieces one after another and plays the first
while the next are made, so the first sound comes in a couple of seconds
however long the reply.
"""

import logging
import time
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from accounts.models import User
from aitre.client import AitreError
from aitre.credentials import client_for
from chat.models import Message
from files import audio, store
from files.models import StoredFile
from lib.refusals import Refusal
from usage import metering

from . import speakable, voices
from .models import Narration, NarrationPiece

logger = logging.getLogger(__name__)

# A piece of at most 4,096 characters is minutes of speech: a few MB of mp3 at most.
MAX_SPEECH_BYTES = 40 * 1024 * 1024


class CannotRead(Refusal):
    """Why this reply cannot be read aloud, for the person; ``http_status`` is the HTTP answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message, status=status)


def narration_for(user: User, message: Message) -> Narration:
    """The reading of ``message`` in ``user``'s voice: found, or set up (no call is made here)."""
    if message.role != Message.Role.ASSISTANT or message.is_live or message.is_failed:
        raise CannotRead(_("Only a finished reply can be read aloud."), 409)
    voice = voices.for_user(user)
    if not voice.speech_model:
        raise CannotRead(_("No model with text to speech is offered on this site, so replies cannot be read aloud."))
    text_pieces = speakable.pieces(speakable.speakable(message.content))
    if not text_pieces:
        raise CannotRead(_("This reply has no words to read aloud."))
    key = {"message": message, "model": voice.speech_model, "voice": voice.voice, "speed": voice.speed}
    found = Narration.objects.filter(**key).first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return Narration.objects.create(owner=user, pieces=text_pieces, **key)
    except IntegrityError:  # the same reading set up by another click a moment ago
        return Narration.objects.get(**key)


def _thousands(text: str) -> Decimal:
    """Speech is priced per thousand characters."""
    return Decimal(len(text)) / 1000


def made_pieces(narration: Narration) -> dict[int, StoredFile]:
    return {made.index: made.file for made in NarrationPiece.objects.filter(narration=narration).select_related("file")}


def piece(user: User, narration: Narration, index: int) -> StoredFile:
    """The audio of one piece: kept already, or made now by one admitted, recorded call."""
    if not 0 <= index < len(narration.pieces):
        raise CannotRead(_("This reading has no such piece."), 404)
    kept = made_pieces(narration).get(index)
    if kept is not None:
        return kept
    text = narration.pieces[index]
    with transaction.atomic():
        # At this piece's price: one piece may not take the user past the quota (raises metering.Refused, 429).
        metering.admit(user, sent=False, call=metering.InFlight(model=narration.model, units=_thousands(text)))
    price = metering.price_for(narration.model)
    started = time.monotonic()
    try:
        speech = client_for(user).speech(
            model=narration.model, text=text, voice=narration.voice, speed=float(narration.speed)
        )
        checked = audio.check(speech.data, "speech", max_bytes=MAX_SPEECH_BYTES)
    except AitreError as exc:
        logger.warning("Reading %s piece %s failed: %s (%s)", narration.pk, index, exc.message, exc.detail)
        raise CannotRead(exc.message, 502) from exc
    except audio.BadAudio as exc:
        # Paid or not, it cannot be played: recorded as a failed call, nothing kept.
        metering.record(
            user, kind=metering.Kind.SPEECH, model=narration.model, subject=narration, succeeded=False, price=price
        )
        raise CannotRead(
            _("The API sent something that is not audio: %(reason)s") % {"reason": exc.reason}, 502
        ) from exc
    duration_ms = int((time.monotonic() - started) * 1000)

    def record() -> None:
        metering.record(
            user,
            kind=metering.Kind.SPEECH,
            model=narration.model,
            subject=narration,
            units=_thousands(text),
            duration_ms=duration_ms,
            price=price,
        )

    name = f"reply-{narration.message_id}-{narration.voice}-{index + 1}.{checked.format.extension}"
    stored = store.keep_audio(
        narration.owner_id, checked, name, StoredFile.Source.SPEECH, model=narration.model, origin_id=narration.pk
    )
    try:
        with transaction.atomic():
            NarrationPiece.objects.create(narration=narration, index=index, file=stored)
            record()
    except IntegrityError:
        # Another listen made this piece at the same moment: both calls were paid, one file is kept.
        stored.delete_with_blobs()
        record()
        return made_pieces(narration)[index]
    return stored
