"""What every settings form shares: it is refused unless it was sent whole."""

from typing import Any

from django import forms
from django.utils.translation import gettext as _


class SentWhole(forms.BaseForm):
    """
    A form whose fields may all be blank reads an empty body, or a JSON one
    (which Django does not parse into ``request.POST``), as "everything blank"
    and saves it: voice settings reset to the defaults, a title cleared. Such
    a form is refused unless every field was sent; an unticked checkbox is
    rightly absent, and widgets say so themselves (``value_omitted_from_data``).
    """

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        missing = [
            str(field.label or name)
            for name, field in self.fields.items()
            if field.widget.value_omitted_from_data(self.data, self.files, self.add_prefix(name))
        ]
        if missing:
            raise forms.ValidationError(
                _("This form was not sent whole (no %(fields)s): nothing was changed.")
                % {"fields": ", ".join(missing)},
                code="incomplete",
            )
        return cleaned
