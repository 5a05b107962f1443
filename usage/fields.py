from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django import forms
from django.db import models


class MoneyField(models.BigIntegerField[Any, Any]):
    """
    An exact amount of the site's currency (``USAGE_CURRENCY``), a Decimal in
    Python, stored as a whole number of billionths. SQLite keeps decimals as
    floats, and a million float additions drift; integers add up exactly on
    every database, so dashboard sums, CSV sums and quota checks agree.
    """

    SCALE = 9

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Decimal | None:
        return None if value is None else Decimal(value).scaleb(-self.SCALE)

    def to_python(self, value: Any) -> Decimal | None:
        if value is None or isinstance(value, Decimal):
            return value
        return Decimal(str(value))

    def get_prep_value(self, value: Any) -> int | None:
        if value is None:
            return None
        return int(Decimal(value).scaleb(self.SCALE).quantize(Decimal(1), rounding=ROUND_HALF_UP))

    def formfield(self, **kwargs: Any) -> Any:
        return forms.DecimalField(**{"decimal_places": self.SCALE, **kwargs})
