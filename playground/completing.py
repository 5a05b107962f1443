"""
A completion run: admitted by the quota and written before the call (so a
refusal changes nothing), streamed to the page as it comes, and settled once
with its usage, whether it completed, was stopped, failed mid-way or the
page went away. Stop works from any process: it sets the run's flag, which
the streaming process reads a couple of times a second, and cancels the
upstream call at once when the stream is in this process.
"""

import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

from django.db import transaction
from django.utils.text import capfirst

from accounts.models import User
from aitre import catalog, tokens
from aitre.client import AitreError, CompletionStream
from aitre.credentials import client_for
from lib import sse
from usage import metering
from usage.quotas import InFlight

from .models import CompletionRun

logger = logging.getLogger(__name__)

FLAG_SECONDS = 0.5
# Text goes out at most this often after the first piece: a few tokens an event.
COALESCE_SECONDS = 0.1

_streams: dict[int, CompletionStream] = {}
_streams_lock = threading.Lock()


def start(user: User, payload: dict[str, Any]) -> CompletionRun:
    """The run, written once the quota admits it (raises ``metering.Refused``, writing nothing)."""
    params = {name: value for name, value in payload.items() if name not in ("model", "prompt")}
    with transaction.atomic():
        metering.admit(user, call=_worst(payload["model"], payload["prompt"], params))
        return CompletionRun.objects.create(owner=user, model=payload["model"], prompt=payload["prompt"], params=params)


def payload_of(run: CompletionRun) -> dict[str, Any]:
    return {"model": run.model, "prompt": run.prompt, **run.params}


def open_stream(run: CompletionRun) -> CompletionStream:
    """The upstream stream; a refusal settles the run as failed (nothing was written, nothing billed)."""
    try:
        stream = client_for(run.owner).stream_completion(payload_of(run))
    except AitreError as exc:
        logger.warning("Completion %s refused: %s (%s)", run.pk, exc.message, exc.detail)
        _settle(run, CompletionRun.Status.ERROR, [], {}, None, exc.message, called=False, started=time.monotonic())
        raise
    with _streams_lock:
        _streams[run.pk] = stream
    return stream


def stop(run: CompletionRun) -> None:
    CompletionRun.objects.filter(pk=run.pk).update(cancel_requested=True)
    with _streams_lock:
        stream = _streams.get(run.pk)
    if stream is not None:
        stream.cancel()


def _visible(run: CompletionRun, raw: str) -> str:
    """
    A choice's text without the prompt an echo repeats: while the echo is
    still arriving, nothing yet; a server that echoes something else is
    shown whole.
    """
    if not run.params.get("echo"):
        return raw
    if raw.startswith(run.prompt):
        return raw[len(run.prompt) :]
    return "" if run.prompt.startswith(raw) else raw


def events(run: CompletionRun, stream: CompletionStream) -> Iterator[bytes]:
    """
    The page's events: ``text`` with what each choice gained since the last,
    then ``done`` with the run as settled. However the generator ends (the
    page gone, an error), the run is settled once.
    """
    started = time.monotonic()
    sent: dict[int, int] = {}
    status, error = CompletionRun.Status.COMPLETE, ""
    last_flag = last_sent = 0.0
    yield sse.event("start", {"run": run.pk})

    def gained() -> dict[str, str]:
        news = {}
        for index, choice in stream.choices.items():
            text = _visible(run, choice.text)
            if len(text) > sent.get(index, 0):
                news[str(index)] = text[sent.get(index, 0) :]
                sent[index] = len(text)
        return news

    try:
        # Marked alive while it streams, even while the API is silent (jobs.runs' stale rule).
        with run.beating():
            for _piece in stream:
                now = time.monotonic()
                if now - last_flag > FLAG_SECONDS:
                    last_flag = now
                    if CompletionRun.objects.filter(pk=run.pk, cancel_requested=True).exists():
                        stream.cancel()
                        break
                if sent and now - last_sent < COALESCE_SECONDS:
                    continue
                last_sent = now
                if news := gained():
                    yield sse.event("text", {"choices": news})
        if stream.cancelled:
            status = CompletionRun.Status.STOPPED
    except AitreError as exc:
        status, error = CompletionRun.Status.ERROR, exc.message
    except GeneratorExit:
        # The page went away: the call is ended, and what came is kept.
        stream.cancel()
        status = CompletionRun.Status.STOPPED
        raise
    finally:
        with _streams_lock:
            _streams.pop(run.pk, None)
        outputs = [_visible(run, choice.text) for choice in stream.ordered()]
        first = stream.choices.get(0)
        settled = _settle(
            run, status, outputs, first.logprobs if first else {}, stream, error, called=True, started=started
        )
    if news := gained():
        yield sse.event("text", {"choices": news})
    yield sse.event("done", settled)


def _settle(
    run: CompletionRun,
    status: str,
    outputs: list[str],
    logprobs: dict[str, Any],
    stream: CompletionStream | None,
    error: str,
    *,
    called: bool,
    started: float,
) -> dict[str, Any]:
    """The one final write: the run and its usage record commit together."""
    usage = stream.usage if stream is not None else None
    estimated = usage is None
    prompt_tokens = usage.prompt_tokens if usage else (tokens.count(run.prompt, run.model) if called else 0)
    completion_tokens = usage.completion_tokens if usage else sum(tokens.count(text, run.model) for text in outputs)
    finish_reason = (stream.finish_reason if stream else "") or (
        "stop" if status == CompletionRun.Status.COMPLETE else ""
    )
    model = (stream.model if stream else "") or run.model
    duration_ms = int((time.monotonic() - started) * 1000)
    fields = {
        "status": status,
        "outputs": outputs,
        "logprobs": logprobs,
        "finish_reason": finish_reason,
        "error": error,
        "prompt_tokens": prompt_tokens if called else None,
        "completion_tokens": completion_tokens if called else None,
        "usage_estimated": estimated and called,
        "duration_ms": duration_ms,
    }
    price = metering.price_for(model, run.model) if called else None
    with transaction.atomic():
        exists = CompletionRun.objects.filter(pk=run.pk).exists()
        finished = exists and run.finish(**fields)
        if exists and not finished:
            # Settled as interrupted meanwhile (its heartbeat was late): keep what it wrote, not the verdict.
            kept = {name: fields[name] for name in ("outputs", "logprobs", "prompt_tokens", "completion_tokens")}
            CompletionRun.objects.filter(pk=run.pk).update(**kept)
        if called and ((outputs and any(outputs)) or status != CompletionRun.Status.ERROR or usage):
            metering.record(
                run.owner_id,
                kind=metering.Kind.COMPLETION,
                model=model,
                price=price,
                subject=run if exists else None,
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                estimated=estimated,
                succeeded=status in (CompletionRun.Status.COMPLETE, CompletionRun.Status.STOPPED),
                duration_ms=duration_ms,
            )
    if not finished:  # deleted, or settled meanwhile: the page is told what was written all the same
        for name, value in fields.items():
            setattr(run, name, value)
    return {
        "status": status,
        "status_label": capfirst(str(run.get_status_display())),
        "finish_reason": finish_reason,
        "error": error,
        "outputs": outputs,
        "logprobs": logprobs,
        "prompt_tokens": fields["prompt_tokens"],
        "completion_tokens": fields["completion_tokens"],
        "estimated": fields["usage_estimated"],
        "cut": finish_reason == "length",
        "title": run.display_title,
    }


def run_whole(run: CompletionRun) -> None:
    """Without JavaScript: the whole completion, streamed here and settled, before the page is shown."""
    try:
        stream = open_stream(run)
    except AitreError:
        return
    for _event in events(run, stream):
        pass


def in_flight(user_id: int) -> list[InFlight]:
    """
    The runs ``user_id`` has streaming, each at the most it may use: its
    prompt in, its maximum tokens (the model's output limit when unset) for
    each completion out. Counted by every quota check (PlaygroundConfig.ready).
    """
    runs = CompletionRun.objects.filter(owner_id=user_id).running()
    running = [run for run in runs.only("model", "prompt", "params", "status", "updated_at") if not run.is_stale]
    return [_worst(run.model, run.prompt, run.params) for run in running]


def _worst(model: str, prompt: str, params: dict[str, Any]) -> InFlight:
    """A run at the most it may use: its prompt in, its maximum tokens for each completion out."""
    return InFlight(
        model=model,
        prompt_tokens=tokens.count(prompt, model),
        completion_tokens=int(params.get("max_tokens") or catalog.setting_for(model).effective_max_tokens)
        * int(params.get("n") or 1),
    )
