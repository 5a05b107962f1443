"""
Thin views: check who is asking and what they sent, hand the work to
``chat.replies``, render. Every object is fetched through one access helper
that answers 404 to anyone but its owner.
"""

import itertools
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from . import catalog, charts, limits, replies, usage
from .forms import ConversationSettingsForm, MessageForm, NewConversationForm, PersonalKeyForm
from .models import ContentAccess, Conversation, Credential, Message, Thread, ThreadItem
from .streaming import follow, sse

SIDEBAR_LIMIT = 200
# A conversation page shows this many messages of the path; earlier ones are one link away.
THREAD_WINDOW = 100
# The settings page lists this many of the latest readings of the user's conversations.
ACCESSES_SHOWN = 100
# The Usage page looks back this many days.
USAGE_DAYS = 30


def _get_conversation_for_user(request: HttpRequest, pk: int) -> Conversation:
    return get_object_or_404(Conversation.objects.for_user(request.user), pk=pk)


def _get_message_for_user(request: HttpRequest, pk: int) -> Message:
    return get_object_or_404(Message.objects.for_user(request.user).select_related("conversation"), pk=pk)


def _wants_stream(request: HttpRequest) -> bool:
    return "text/event-stream" in request.headers.get("Accept", "")


def _wants_json(request: HttpRequest) -> bool:
    """The page's script is asking (it takes refusals as JSON, whatever it streams)."""
    return "application/json" in request.headers.get("Accept", "") or _wants_stream(request)


def _errors_of(form: Any) -> str:
    return " ".join(str(e) for errors in form.errors.values() for e in errors)


def _event_stream(events: Iterator[bytes]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(events, content_type="text/event-stream; charset=utf-8")
    # Proxies and routers must pass every event on at once.
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


def _sidebar(request: HttpRequest) -> dict[str, Any]:
    query = request.GET.get("q", "")[:200]
    conversations = (
        Conversation.objects.for_user(request.user).listed().search(query).only("pk", "title", "pinned", "updated_at")
    )
    return {"conversations": conversations[:SIDEBAR_LIMIT], "query": query}


def _thread(request: HttpRequest, conversation: Conversation) -> Thread:
    return conversation.thread(window=None if request.GET.get("all") else THREAD_WINDOW)


def _thread_html(request: HttpRequest, conversation: Conversation) -> str:
    context = {"thread": _thread(request, conversation), "conversation": conversation}
    return render_to_string("chat/_thread.html", context, request)


def _message_html(request: HttpRequest, message: Message, item: ThreadItem | None = None) -> str:
    item = item or Thread.item_for(message)
    return render_to_string("chat/_message.html", {"item": item, "conversation": message.conversation}, request)


def _reply_started(
    request: HttpRequest,
    reply: Message,
    *,
    whole_thread: bool,
    extra: dict[str, Any] | None = None,
    replay: bool = False,
) -> HttpResponse:
    """
    Start the reply, then answer: with its event stream, or JSON, for the
    page's script; without JavaScript, wait for the whole reply and redirect.
    A replayed submit gets the same answer about the reply it started then.
    """
    conversation = reply.conversation
    if not _wants_json(request):
        # Without JavaScript the post waits for the whole reply.
        if not replay:
            replies.run(reply, request.user)
        return redirect(reverse("chat:conversation", args=[conversation.pk]) + f"#m{reply.pk}")
    if not replay:
        replies.start_in_background(reply, request.user)
    data: dict[str, Any] = {"reply": reply.pk, "stream": reverse("chat:stream", args=[reply.pk]), **(extra or {})}
    if whole_thread:
        data["thread"] = _thread_html(request, conversation)
    else:
        # A new message at the end of the path, and its reply: each the only version.
        assert reply.parent is not None
        data["messages"] = "".join(
            _message_html(request, message, ThreadItem(message, 1, 1, None, None)) for message in (reply.parent, reply)
        )
    if _wants_stream(request):
        # The answer is the reply's own stream, from the process writing it:
        # no second request, no hop to another process.
        return _event_stream(itertools.chain([sse("start", data)], follow(reply, lambda m: _message_html(request, m))))
    return JsonResponse(data)


def _refuse(
    request: HttpRequest, message: str, status: int, conversation: Conversation | None, form: MessageForm | None = None
) -> HttpResponse:
    """A clear 4xx that changes nothing: JSON for the script; without it, the page, with the text kept."""
    if _wants_json(request):
        return JsonResponse({"error": message}, status=status)
    flash.error(request, message)
    if conversation is None:
        return _home_page(request, form=form, status=status)
    return _conversation_page(request, conversation, form=form, status=status)


def _too_fast(request: HttpRequest, conversation: Conversation | None, form: Any = None) -> HttpResponse | None:
    """None while the user is within the send rate; else the refusal."""
    try:
        limits.count_send(request.user)
    except limits.TooFast as exc:
        response = _refuse(request, str(exc), 429, conversation, form)
        response["Retry-After"] = str(exc.retry_after)
        return response
    return None


def _over_quota(
    request: HttpRequest, exc: usage.QuotaExceeded, conversation: Conversation | None, form: Any = None
) -> HttpResponse:
    response = _refuse(request, str(exc), 429, conversation, form)
    response["Retry-After"] = str(max(1, int((exc.status.resets_at - timezone.now()).total_seconds())))
    return response


def _start_reply(
    request: HttpRequest,
    conversation: Conversation,
    start: Callable[[], Message],
    *,
    whole_thread: bool = False,
    form: MessageForm | None = None,
) -> HttpResponse:
    """
    A send, edit or regenerate: within the send rate, ``start`` makes the
    reply, and every way it can be refused is answered alike.
    """
    if refused := _too_fast(request, conversation, form):
        return refused
    try:
        reply = start()
    except replies.AlreadySent as sent:
        return _reply_started(request, sent.reply, whole_thread=True, replay=True)
    except replies.ReplyInProgress:
        return _refuse(request, _("Wait for the current reply to finish, or stop it."), 409, conversation, form)
    except usage.QuotaExceeded as exc:
        return _over_quota(request, exc, conversation, form)
    return _reply_started(request, reply, whole_thread=whole_thread)


# --- Pages -------------------------------------------------------------------


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return _home_page(request)


def _home_page(request: HttpRequest, *, form: NewConversationForm | None = None, status: int = 200) -> HttpResponse:
    models = catalog.offered_models(request.user)
    context = {
        **_sidebar(request),
        "form": form or NewConversationForm(models=models),
        "models": models,
        "default_model": catalog.default_model_name(),
        "quota": usage.status_for(request.user),
    }
    return render(request, "chat/home.html", context, status=status)


@login_required
@require_GET
def conversation(request: HttpRequest, pk: int) -> HttpResponse:
    return _conversation_page(request, _get_conversation_for_user(request, pk))


def _conversation_page(
    request: HttpRequest,
    conversation: Conversation,
    *,
    form: MessageForm | None = None,
    settings_form: ConversationSettingsForm | None = None,
    status: int = 200,
) -> HttpResponse:
    models = catalog.offered_models(request.user)
    context = {
        **_sidebar(request),
        "conversation": conversation,
        "thread": _thread(request, conversation),
        "form": form or MessageForm(),
        "settings_form": settings_form or ConversationSettingsForm(instance=conversation, models=models),
        "quota": usage.status_for(request.user),
    }
    return render(request, "chat/conversation.html", context, status=status)


# --- Sending -----------------------------------------------------------------


@login_required
@require_POST
def start_conversation(request: HttpRequest) -> HttpResponse:
    models = catalog.offered_models(request.user)
    form = NewConversationForm(request.POST, models=models)
    if not form.is_valid():
        message = _errors_of(form)
        if _wants_json(request):
            return JsonResponse({"error": message}, status=400)
        return _home_page(request, form=form, status=400)
    model = form.cleaned_data["model"] or catalog.default_model_name()
    if refused := _too_fast(request, None, form):
        return refused
    try:
        reply = replies.start(request.user, model, form.cleaned_data["text"], form.cleaned_data["client_id"])
    except usage.QuotaExceeded as exc:
        return _over_quota(request, exc, None, form)
    except replies.AlreadySent as sent:
        # The chat exists already: go to it.
        url = reverse("chat:conversation", args=[sent.reply.conversation_id])
        return JsonResponse({"redirect": url}) if _wants_json(request) else redirect(url)
    conversation = reply.conversation
    url = reverse("chat:conversation", args=[conversation.pk])
    if not _wants_stream(request):
        if _wants_json(request):
            replies.start_in_background(reply, request.user)
            return JsonResponse({"redirect": url})
        return _reply_started(request, reply, whole_thread=False)
    # The page becomes the conversation's without a reload: its address, title and header.
    settings_form = ConversationSettingsForm(instance=conversation, models=models)
    page = {
        "url": url,
        "send": reverse("chat:send", args=[conversation.pk]),
        "title": conversation.display_title,
        "header": render_to_string(
            "chat/_conversation_header.html", {"conversation": conversation, "settings_form": settings_form}, request
        ),
    }
    return _reply_started(request, reply, whole_thread=False, extra={"conversation": page})


@login_required
@require_POST
def send(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _get_conversation_for_user(request, pk)
    form = MessageForm(request.POST)
    if not form.is_valid():
        message = _errors_of(form)
        if _wants_json(request):
            return JsonResponse({"error": message}, status=400)
        return _conversation_page(request, conversation, form=form, status=400)
    data = form.cleaned_data
    return _start_reply(
        request, conversation, lambda: replies.send(conversation, data["text"], data["client_id"]), form=form
    )


@login_required
@require_POST
def regenerate(request: HttpRequest, pk: int) -> HttpResponse:
    message = _get_message_for_user(request, pk)
    if message.role != Message.Role.ASSISTANT:
        return _refuse(request, _("Only a reply can be regenerated."), 400, message.conversation)
    return _start_reply(request, message.conversation, lambda: replies.regenerate(message), whole_thread=True)


@login_required
@require_POST
def edit(request: HttpRequest, pk: int) -> HttpResponse:
    message = _get_message_for_user(request, pk)
    if message.role != Message.Role.USER:
        return _refuse(request, _("Only your own messages can be edited."), 400, message.conversation)
    form = MessageForm(request.POST)
    if not form.is_valid():
        return _refuse(request, _errors_of(form), 400, message.conversation)
    data = form.cleaned_data
    return _start_reply(
        request,
        message.conversation,
        lambda: replies.edit(message, data["text"], data["client_id"]),
        whole_thread=True,
        # Refused without the script, the edited text comes back in the composer.
        form=form,
    )


@login_required
@require_POST
def select_version(request: HttpRequest, pk: int) -> HttpResponse:
    message = _get_message_for_user(request, pk)
    replies.select_version(message)
    conversation = message.conversation
    if _wants_json(request):
        return JsonResponse({"thread": _thread_html(request, conversation)})
    return redirect(reverse("chat:conversation", args=[conversation.pk]) + f"#m{message.pk}")


@login_required
@require_POST
def stop(request: HttpRequest, pk: int) -> HttpResponse:
    message = _get_message_for_user(request, pk)
    if message.is_live:
        replies.stop(message)
    if _wants_json(request):
        return JsonResponse({"stopped": True})
    return redirect(reverse("chat:conversation", args=[message.conversation_id]) + f"#m{message.pk}")


@login_required
@require_GET
def stream(request: HttpRequest, pk: int) -> HttpResponse:
    message = _get_message_for_user(request, pk)
    return _event_stream(follow(message, lambda m: _message_html(request, m)))


# --- Managing conversations ----------------------------------------------------


@login_required
@require_POST
def update_settings(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _get_conversation_for_user(request, pk)
    form = ConversationSettingsForm(request.POST, instance=conversation, models=catalog.offered_models(request.user))
    if not form.is_valid():
        # Re-read: a failed ModelForm leaves its cleaned values on the instance.
        return _conversation_page(request, _get_conversation_for_user(request, pk), settings_form=form, status=400)
    form.save()
    flash.success(request, _("Saved."))
    return redirect("chat:conversation", pk=conversation.pk)


@login_required
@require_POST
def toggle_pin(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _get_conversation_for_user(request, pk)
    Conversation.objects.filter(pk=conversation.pk).update(pinned=not conversation.pinned)
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("chat:conversation", args=[pk])
    return redirect(target)


@login_required
@require_http_methods(["GET", "POST"])
def delete(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _get_conversation_for_user(request, pk)
    if request.method == "POST":
        replies.delete_conversation(conversation)
        flash.success(request, _("Conversation deleted."))
        return redirect("chat:home")
    return render(request, "chat/confirm_delete.html", {**_sidebar(request), "conversation": conversation})


# --- The user's own settings -------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def account(request: HttpRequest) -> HttpResponse:
    personal = Credential.objects.filter(user=request.user).first()
    form = PersonalKeyForm(request.POST or None)
    if request.method == "POST":
        if request.POST.get("action") == "remove":
            Credential.objects.filter(user=request.user).delete()
            flash.success(request, _("Your key was removed. The site's key is used again."))
            return redirect("chat:account")
        if form.is_valid():
            credential = personal or Credential(user=request.user, name=str(_("personal key")))
            credential.set_key(form.cleaned_data["api_key"])
            credential.is_active = True
            credential.save()
            flash.success(request, _("Your key was saved."))
            return redirect("chat:account")
    status = 400 if form.errors else 200
    context = {
        **_sidebar(request),
        "form": form,
        "personal": personal,
        "accesses": ContentAccess.objects.filter(owner=request.user)[:ACCESSES_SHOWN],
    }
    return render(request, "chat/account.html", context, status=status)


# --- Usage -------------------------------------------------------------------------


@login_required
@require_GET
def usage_page(request: HttpRequest) -> HttpResponse:
    status = usage.status_for(request.user)
    days = usage.daily(request.user, USAGE_DAYS)
    since = usage.midnight(days[0]["day"])
    context = {
        **_sidebar(request),
        "quota": status,
        "days": days,
        "totals": usage.sum_days(days),
        "token_chart": charts.stacked_daily(
            [d["day"] for d in days], [(_("tokens"), [d["tokens"] for d in days])], unit=_("tokens")
        ),
        "cost_chart": charts.stacked_daily(
            [d["day"] for d in days],
            [(_("cost"), [d["cost"] for d in days])],
            unit=settings.USAGE_CURRENCY,
            format_value=lambda value: f"{value:g}",
        ),
        "costly_conversations": usage.costliest_conversations(request.user, since),
        "usage_days": USAGE_DAYS,
    }
    return render(request, "chat/usage.html", context)
