"""
The completions playground's runs: a prompt sent to ``POST /v1/completions``
with its parameters, and what came back, kept for the owner to reopen,
rename and delete.
"""

from typing import Any

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from jobs.runs import InProcessRun, InProcessRunQuerySet

MAX_TITLE = 200


class CompletionRunQuerySet(InProcessRunQuerySet["CompletionRun"]):
    """for_user, running, stale and settle_stale (jobs.runs)."""


class CompletionRun(InProcessRun):
    """A run streams in the web process that took it, marking itself alive (jobs.runs)."""

    # Stopped is a run of its own kind here: what was written before Stop is kept, and billed.
    class Status(models.TextChoices):
        RUNNING = "running", _("running")
        COMPLETE = "complete", _("complete")
        STOPPED = "stopped", _("stopped")
        ERROR = "error", _("failed")

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="completion_runs")
    title = models.CharField(_("title"), max_length=MAX_TITLE, blank=True)
    model = models.CharField(_("model"), max_length=200)
    prompt = models.TextField(_("prompt"))
    # The parameters sent besides the prompt (max_tokens, temperature, stop...).
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    # One text per choice (n), as generated: the prompt is not repeated, even with echo.
    outputs = models.JSONField(_("completions"), default=list, blank=True)
    # The first choice's tokens and their log probabilities, when asked for.
    logprobs = models.JSONField(_("log probabilities"), default=dict, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.RUNNING)
    finish_reason = models.CharField(_("finish reason"), max_length=32, blank=True)
    error = models.TextField(_("error"), blank=True)
    prompt_tokens = models.PositiveIntegerField(_("prompt tokens"), null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(_("completion tokens"), null=True, blank=True)
    usage_estimated = models.BooleanField(_("usage estimated"), default=False)
    duration_ms = models.PositiveIntegerField(_("total time (ms)"), null=True, blank=True)
    # Set by Stop from any process; the process streaming the run looks at it.
    cancel_requested = models.BooleanField(default=False)

    objects = CompletionRunQuerySet.as_manager()

    class Meta:
        verbose_name = _("completion run")
        verbose_name_plural = _("completion runs")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["owner", "-created_at"])]

    @classmethod
    def settled_fields(cls) -> dict[str, Any]:
        """
        Failed, with the reason: what it wrote was never stored and its usage
        is unknown, so nothing is recorded.
        """
        return {
            "status": cls.Status.ERROR,
            "error": _("The run was interrupted because the server stopped. Submit again to retry."),
            "updated_at": timezone.now(),
        }

    def __str__(self) -> str:
        # Never the prompt: it shows in the admin.
        return f"{self.model} #{self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("playground:run", args=[self.pk])

    def usage_label(self) -> str:
        """How its owner sees it on their Usage page."""
        return self.display_title

    @property
    def display_title(self) -> str:
        if self.title:
            return self.title
        first = " ".join(self.prompt.split())
        return first[:60] + ("…" if len(first) > 60 else "") if first else str(_("Untitled run"))

    @property
    def text(self) -> str:
        """The first choice's text, as it continues the prompt."""
        return str(self.outputs[0]) if self.outputs else ""

    @property
    def logprob_rows(self) -> list[tuple[str, float | None, str]]:
        """The first choice's tokens as the page shows them: token, log probability, the likeliest instead."""
        tokens = self.logprobs.get("tokens") or []
        values = self.logprobs.get("token_logprobs") or []
        tops = self.logprobs.get("top_logprobs") or []
        rows = []
        for i, token in enumerate(tokens):
            value = values[i] if i < len(values) and isinstance(values[i], int | float) else None
            top = tops[i] if i < len(tops) and isinstance(tops[i], dict) else {}
            likeliest = ", ".join(f"{candidate!r} {float(p):.2f}" for candidate, p in top.items())
            rows.append((str(token), value, likeliest))
        return rows
