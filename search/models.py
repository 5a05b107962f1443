"""
What search reads: a *passage* for every finished message (question or
reply) and every conversation title, owned by the conversation's owner and
deleted with it. A passage is found by words as soon as it exists (the
full-text index is kept by the database, see the migrations), and by meaning
once the worker has embedded it with the admin's embedding model.
"""

from dataclasses import dataclass
from typing import Any

import numpy as np
from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from chat.models import Conversation, Message

from . import text as search_text


class SearchSettings(models.Model):
    """The admin's choices (one row; these field defaults until it is saved)."""

    embedding_model = models.CharField(
        _("embedding model"),
        max_length=200,
        blank=True,
        help_text=_(
            "A model with the embeddings capability. Blank: the first one offered. "
            "Changing it re-indexes every passage in the background."
        ),
    )
    dimensions = models.PositiveIntegerField(
        _("vector length"),
        null=True,
        blank=True,
        default=256,
        validators=[MinValueValidator(16), MaxValueValidator(4096)],
        help_text=_(
            "Asked of models that can shorten their vectors (text-embedding-3 and later): shorter vectors "
            "search faster and take less room. Blank: the model's own length."
        ),
    )
    batch_size = models.PositiveIntegerField(
        _("passages per call"),
        default=128,
        validators=[MinValueValidator(1), MaxValueValidator(2048)],
        help_text=_("How many passages one embeddings call carries (the API takes at most 2,048)."),
    )

    class Meta:
        verbose_name = _("search settings")
        verbose_name_plural = _("search settings")

    def __str__(self) -> str:
        return str(_("Search settings"))


@dataclass(frozen=True)
class VectorSpace:
    """
    What vectors are compared within: the model that made them and the
    length asked of it (None: the model's own). Vectors of two spaces are
    never compared, and a change of either re-embeds every passage.
    """

    model: str
    dimensions: int | None = None


# "Of any length", for a look at one model's vectors whatever was asked of it.
ANY_LENGTH: Any = object()


class PassageQuerySet(models.QuerySet["Passage"]):
    def for_user(self, user: User) -> "PassageQuerySet":
        return self.filter(owner=user)

    # A passage's vector_model is set exactly when it has a vector (they are written together,
    # and cleared together when its text changes): the index on it answers these alone.
    def embedded_with(self, model: str, dimensions: int | None = ANY_LENGTH) -> "PassageQuerySet":
        if dimensions is ANY_LENGTH:
            return self.filter(vector_model=model)
        return self.filter(vector_model=model, vector_dimensions=dimensions)

    def embedded_in(self, space: VectorSpace) -> "PassageQuerySet":
        return self.embedded_with(space.model, space.dimensions)

    def waiting_for(self, model: str, dimensions: int | None = ANY_LENGTH) -> "PassageQuerySet":
        """Passages with no vector of ``model`` (of that length): never embedded, or embedded otherwise."""
        if dimensions is ANY_LENGTH:
            return self.exclude(vector_model=model)
        return self.exclude(vector_model=model, vector_dimensions=dimensions)

    def waiting_in(self, space: VectorSpace) -> "PassageQuerySet":
        return self.waiting_for(space.model, space.dimensions)


class Passage(models.Model):
    class Kind(models.TextChoices):
        MESSAGE = "message", _("message")
        TITLE = "title", _("title")

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+")
    message = models.OneToOneField(Message, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.MESSAGE)
    role = models.CharField(_("role"), max_length=16, blank=True)
    # As written, for the result's snippet and for embedding.
    text = models.TextField(_("text"))
    # What the full-text index reads (search.text.index_terms): kept in step by the database.
    terms = models.TextField(editable=False)
    text_length = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    # float32, little-endian; compared only within its VectorSpace (these two fields).
    vector = models.BinaryField(null=True, editable=False)
    vector_model = models.CharField(_("embedded with"), max_length=200, blank=True)
    vector_dimensions = models.PositiveIntegerField(_("vector length asked"), null=True, blank=True)
    embedded_at = models.DateTimeField(_("embedded"), null=True, blank=True)
    # Held by the worker embedding it until then (see search.indexing).
    claimed_until = models.DateTimeField(null=True, blank=True, editable=False)

    objects = PassageQuerySet.as_manager()

    class Meta:
        verbose_name = _("passage")
        verbose_name_plural = _("passages")
        indexes = [
            models.Index(
                fields=["owner", "vector_model", "vector_dimensions", "embedded_at"], name="search_passage_space"
            )
        ]
        constraints = [
            models.UniqueConstraint(fields=["conversation"], condition=Q(kind="title"), name="one_title_passage")
        ]

    def __str__(self) -> str:
        # Never the text: it shows in the admin, where message text needs a permission.
        return f"{self.get_kind_display()} #{self.pk}"

    def set_text(self, text: str) -> None:
        self.text = text
        self.terms = search_text.index_terms(text)
        self.text_length = len(text)

    def as_vector(self) -> np.ndarray | None:
        return None if self.vector is None else np.frombuffer(bytes(self.vector), dtype="<f4")
