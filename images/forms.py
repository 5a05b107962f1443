from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from aitre.client.images import FAMILIES, family_of


class StudioForm(forms.Form):
    """
    A prompt, a model, and that model's own parameters. Every parameter any
    family takes is a field; ``clean`` keeps only those of the chosen
    model's family, each one checked against the values it allows.
    """

    model = forms.ChoiceField(label=_("Model"))
    prompt = forms.CharField(label=_("Prompt"), widget=forms.Textarea(attrs={"rows": 4}), strip=True)
    n = forms.IntegerField(label=_("Images"), min_value=1, max_value=10, initial=1, required=False)
    size = forms.CharField(label=_("Size"), required=False)
    quality = forms.CharField(label=_("Quality"), required=False)
    style = forms.CharField(label=_("Style"), required=False)
    background = forms.CharField(label=_("Background"), required=False)
    output_format = forms.CharField(label=_("Format"), required=False)

    PARAMETERS = ("size", "quality", "style", "background", "output_format")

    def __init__(self, *args: Any, choices: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        model_field = self.fields["model"]
        assert isinstance(model_field, forms.ChoiceField)
        model_field.choices = choices

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        model = cleaned.get("model")
        if not model:
            return cleaned
        family = family_of(model)
        prompt = cleaned.get("prompt") or ""
        if len(prompt) > family.max_prompt:
            self.add_error(
                "prompt",
                _("%(model)s takes a prompt of at most %(limit)d characters.")
                % {"model": model, "limit": family.max_prompt},
            )
        count = cleaned.get("n") or 1
        if count > family.max_n:
            self.add_error(
                "n",
                ngettext(
                    "%(model)s makes at most %(limit)d image at once.",
                    "%(model)s makes at most %(limit)d images at once.",
                    family.max_n,
                )
                % {"model": model, "limit": family.max_n},
            )
        params: dict[str, str] = {}
        for name in self.PARAMETERS:
            choice = family.choice(name)
            value = cleaned.get(name) or ""
            if choice is None:
                continue  # not this family's: never sent
            if value and value not in choice.values:
                self.add_error(name, _("%(value)s is not a choice for %(model)s.") % {"value": value, "model": model})
                continue
            params[name] = value or choice.default
        clash = family.clash(params)
        if clash:
            (first, first_value), (second, second_value) = clash
            self.add_error(
                second,
                _("%(model)s does not take %(first)s “%(first_value)s” with %(second)s “%(second_value)s”.")
                % {
                    "model": model,
                    "first": self.fields[first].label,
                    "first_value": first_value,
                    "second": self.fields[second].label,
                    "second_value": second_value,
                },
            )
        cleaned["params"] = params
        cleaned["n"] = count
        return cleaned


def families_for_page() -> dict[str, Any]:
    """Each family's parameters, for the page's script to show only the valid ones."""
    return {
        key: {
            "max_n": family.max_n,
            "max_prompt": family.max_prompt,
            "choices": {c.name: list(c.values) for c in family.choices},
            "exclusive": [[list(choice) for choice in pair] for pair in family.exclusive],
        }
        for key, family in FAMILIES.items()
    }
