"""Following a studio run over server-sent events (``chat.polling``), from any process."""

from collections.abc import Callable

from django.http import StreamingHttpResponse

from chat import polling

from .models import Generation


def response(generation: Generation, render: Callable[[Generation], str]) -> StreamingHttpResponse:
    from . import studio

    return polling.response(
        lambda: Generation.objects.filter(pk=generation.pk).first(),
        settle=lambda g: studio.settle_stale(Generation.objects.filter(pk=g.pk)),
        render=render,
    )
