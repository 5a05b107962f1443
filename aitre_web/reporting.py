"""
Exception reports that never carry an API key.

Django's default filter hides settings whose names look secret, but not the
local variables of library frames: a failure inside ``requests`` would show
its headers, ``Authorization: Bearer <key>`` included. This filter also
scrubs every frame variable of bearer tokens, key-like strings and the
configured key. Used through DEFAULT_EXCEPTION_REPORTER_FILTER.
"""

import re
from typing import Any

from django.conf import settings
from django.views.debug import SafeExceptionReporterFilter

from aitre.client.errors import redact

_BEARER = re.compile(r"(Bearer\s+)[^\s'\",}]+", re.IGNORECASE)


class KeySafeExceptionReporterFilter(SafeExceptionReporterFilter):
    hidden_settings = re.compile("API|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|AUTHORIZATION", flags=re.IGNORECASE)

    def get_traceback_frame_variables(self, request: Any, tb_frame: Any) -> Any:
        return [(name, self._scrub(value)) for name, value in super().get_traceback_frame_variables(request, tb_frame)]

    def _scrub(self, value: Any) -> Any:
        if value is self.cleansed_substitute:
            return value
        try:
            text = value if isinstance(value, str) else repr(value)
        except Exception:  # a repr that fails must not break the report
            return self.cleansed_substitute
        scrubbed = redact(_BEARER.sub(r"\1" + self.cleansed_substitute, text), (settings.AITRE_API_KEY,))
        if scrubbed == text:
            return value
        # The report shows a repr anyway; show the scrubbed one.
        return scrubbed
