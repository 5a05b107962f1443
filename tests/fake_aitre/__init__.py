"""
A fake AITRE server on 127.0.0.1 that speaks the API's wire format, one
module per endpoint family (``chat``, ``models``; the families still to come
add theirs), over the shared plumbing in ``server``.

The tests talk to it over real HTTP, so the client's streaming, timeouts and
error handling run for real. Every request is recorded (``state.requests``);
what it "billed" too (``state.reported``).

Run alone (for ``make bench`` or a demo): ``python -m tests.fake_aitre --port 8765``.
"""

import sys

# ``python -m tests.fake_aitre --gevent`` (the benchmark's load): patch before
# anything imports socket or threading. While -m locates the package, argv[0] is "-m".
if sys.argv[:1] == ["-m"] and "--gevent" in sys.argv:
    from gevent import monkey

    monkey.patch_all()

from .server import FakeAitre
from .state import DEFAULT_REPLY, MODELS, FakeState, Recorded, tokens_of

__all__ = ["DEFAULT_REPLY", "MODELS", "FakeAitre", "FakeState", "Recorded", "tokens_of"]
