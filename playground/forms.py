"""
What a completion run takes (§9), each parameter in OpenAI's range, each
refused with a sentence that names it. Unset parameters are not sent: the
server's defaults hold.

The text sent (prompt, suffix and stop sequences together) is held to
PLAYGROUND_MAX_PROMPT_CHARS, and its tokens with the completion's to the
model's context, here on the server: the page's maxlength is only a hint.
"""

from typing import Any

from django import forms
from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils.formats import number_format
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise

from aitre import catalog, tokens

MAX_STOP_SEQUENCES = 4
# Without a maximum set, a prompt must leave at least this for the completion.
MIN_COMPLETION_TOKENS = 16
MAX_CHOICES = 4
SENT_WHEN_SET = ("max_tokens", "temperature", "top_p", "presence_penalty", "frequency_penalty", "seed", "n", "logprobs")


def _number(label: StrOrPromise, low: float, high: float, step: str, help_text: StrOrPromise = "") -> forms.FloatField:
    return forms.FloatField(
        label=label,
        required=False,
        validators=[MinValueValidator(low), MaxValueValidator(high)],
        widget=forms.NumberInput(attrs={"step": step, "min": low, "max": high}),
        help_text=help_text,
    )


class CompletionForm(forms.Form):
    model = forms.ChoiceField(label=_("Model"))
    prompt = forms.CharField(label=_("Prompt"), strip=False, widget=forms.Textarea(attrs={"rows": 14}))
    suffix = forms.CharField(
        label=_("Suffix"),
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Text that comes after the completion, for models that fill in the middle."),
    )
    max_tokens = forms.IntegerField(
        label=_("Maximum tokens"), min_value=1, max_value=128_000, initial=256, required=False
    )
    temperature = _number(_("Temperature"), 0, 2, "0.1", _("0 to 2; higher is more varied."))
    top_p = _number(_("Top P"), 0, 1, "0.05", _("0 to 1; the share of likely tokens sampled from."))
    presence_penalty = _number(_("Presence penalty"), -2, 2, "0.1", _("-2 to 2; above 0 favours new topics."))
    frequency_penalty = _number(_("Frequency penalty"), -2, 2, "0.1", _("-2 to 2; above 0 repeats less."))
    stop = forms.CharField(
        label=_("Stop sequences"),
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("One a line, at most four. \\n stands for a line break."),
    )
    seed = forms.IntegerField(label=_("Seed"), required=False, min_value=0, max_value=2**63 - 1)
    n = forms.IntegerField(
        label=_("Completions"),
        required=False,
        min_value=1,
        max_value=MAX_CHOICES,
        initial=1,
        help_text=_("How many to write (each is billed)."),
    )
    logprobs = forms.IntegerField(
        label=_("Log probabilities"),
        required=False,
        min_value=0,
        max_value=5,
        help_text=_("0 to 5 likeliest tokens shown for each token written."),
    )
    echo = forms.BooleanField(label=_("Echo the prompt"), required=False)

    def __init__(self, *args: Any, models: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["model"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = models
        # A hint for the browser; ``clean`` holds the limit.
        self.fields["prompt"].widget.attrs["maxlength"] = str(settings.PLAYGROUND_MAX_PROMPT_CHARS)

    def clean_prompt(self) -> str:
        prompt = str(self.cleaned_data["prompt"])
        if not prompt.strip():
            raise forms.ValidationError(_("Write a prompt to continue."))
        return prompt

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        sent = [data.get("prompt") or "", data.get("suffix") or "", *(data.get("stop") or [])]
        limit = settings.PLAYGROUND_MAX_PROMPT_CHARS
        written = sum(len(text) for text in sent)
        if written > limit:
            raise forms.ValidationError(
                _("The prompt, suffix and stop sequences come to %(written)s characters; at most %(limit)s are sent.")
                % {
                    "written": number_format(written, force_grouping=True),
                    "limit": number_format(limit, force_grouping=True),
                }
            )
        if data.get("model") and data.get("prompt"):
            self._check_context(data)
        return data

    def _check_context(self, data: dict[str, Any]) -> None:
        """The prompt and suffix, with the completion asked for (or a short one), within the model's context."""
        model = data["model"]
        setting = catalog.setting_for(model)
        context = setting.effective_context_tokens
        needed = tokens.count(data["prompt"], model) + tokens.count(data.get("suffix") or "", model)
        asked = data.get("max_tokens")
        completion = int(asked) if asked else min(MIN_COMPLETION_TOKENS, setting.effective_max_tokens)
        if needed + completion <= context:
            return
        words = {
            "model": model,
            "needed": number_format(needed, force_grouping=True),
            "context": number_format(context, force_grouping=True),
            "left": number_format(max(context - needed, 0), force_grouping=True),
        }
        if asked and needed < context:
            self.add_error(
                "max_tokens",
                _("The prompt takes about %(needed)s of %(model)s's %(context)s tokens: at most %(left)s are left.")
                % words,
            )
        else:
            raise forms.ValidationError(
                _(
                    "The prompt is too long for %(model)s: about %(needed)s tokens, and the model's context holds "
                    "%(context)s with the completion. Shorten it, or pick a model with a larger context."
                )
                % words
            )

    def clean_stop(self) -> list[str]:
        lines = [line.replace("\\n", "\n") for line in str(self.cleaned_data["stop"] or "").splitlines() if line]
        if len(lines) > MAX_STOP_SEQUENCES:
            raise forms.ValidationError(_("At most four stop sequences."))
        return lines

    def payload(self) -> dict[str, Any]:
        """The request body: what was set, as the API names it."""
        data = self.cleaned_data
        body: dict[str, Any] = {"model": data["model"], "prompt": data["prompt"]}
        for name in (
            "max_tokens",
            "temperature",
            "top_p",
            "presence_penalty",
            "frequency_penalty",
            "seed",
            "n",
            "logprobs",
        ):
            if data.get(name) is not None:
                body[name] = data[name]
        if data["stop"]:
            body["stop"] = data["stop"]
        if data["suffix"]:
            body["suffix"] = data["suffix"]
        if data["echo"]:
            body["echo"] = True
        return body

    def errors_text(self) -> str:
        return " ".join(
            f"{self.fields[name].label}: {error}" if name in self.fields and name != "__all__" else str(error)
            for name, errors in self.errors.items()
            for error in errors
        )
