"""
Thin views: check who is asking and what they sent, hand the work to
``chat.replies``, render. Every object is fetched through one access helper
that answers 404 to anyone but its owner.
"""

from collections.abc import Callable
from typing import Any

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.forms import ThemeForm
from accounts.http import AuthenticatedHttpRequest
from aitre import catalog
from aitre.models import Credential
from files.models import StoredFile
from lib import http
from lib.http import errors_of, wants_json, wants_stream
from lib.refusals import Refusal
from usage import quotas

from . import replies, streaming, threads
from .forms import ConversationSettingsForm, MessageForm, NewConversationForm, PersonalKeyForm
from .models import ContentAccess, Conversation, Message
from .threads import Thread, ThreadItem

# A conversation page shows this many messages of the path; earlier ones are one link away.
THREAD_WINDOW = 100
# The settings page lists this many of the latest readings of the user's conversations.
ACCESSES_SHOWN = 100


def _get_conversation_for_user(request: AuthenticatedHttpRequest, pk: int) -> Conversation:
    return get_object_or_404(Conversation.objects.for_user(request.user), pk=pk)


def _get_message_for_user(request: AuthenticatedHttpRequest, pk: int) -> Message:
    return get_object_or_404(Message.objects.for_user(request.user).select_related("conversation"), pk=pk)


def _thread(request: AuthenticatedHttpRequest, conversation: Conversation) -> Thread:
    return threads.current(conversation, window=None if request.GET.get("all") else THREAD_WINDOW)


def _thread_html(request: AuthenticatedHttpRequest, conversation: Conversation) -> str:
    context = {"thread": _thread(request, conversation), "conversation": conversation}
    return render_to_string("chat/_thread.html", context, request)


def _message_html(request: AuthenticatedHttpRequest, message: Message, item: ThreadItem | None = None) -> str:
    item = item or threads.item_for(message)
    return render_to_string("chat/_message.html", {"item": item, "conversation": message.conversation}, request)


def _reply_started(
    request: AuthenticatedHttpRequest,
    reply: Message,
    *,
    whole_thread: bool,
    extra: dict[str, Any] | None = None,
    replay: bool = False,
) -> HttpResponseBase:
    """
    Start the reply, then answer: with its event stream, or JSON, for the
    page's script; without JavaScript, wait for the whole reply and redirect.
    A replayed submit gets the same answer about the reply it started then.
    """
    conversation = reply.conversation
    if not wants_json(request):
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
            _message_html(request, message, ThreadItem.alone(message)) for message in (reply.parent, reply)
        )
    if wants_stream(request):
        # The answer is the reply's own stream, from the process writing it:
        # no second request, no hop to another process.
        return streaming.response(reply, lambda m: _message_html(request, m), start=data)
    return JsonResponse(data)


def _refuse(
    request: AuthenticatedHttpRequest,
    refusal: Refusal,
    conversation: Conversation | None,
    form: MessageForm | None = None,
) -> HttpResponse:
    """A clear 4xx that changes nothing; without the script, the page the user was on, with the text kept."""

    def page(status: int) -> HttpResponse:
        if conversation is None:
            return _home_page(request, form=form, status=status)
        return _conversation_page(request, conversation, form=form, status=status)

    return http.refuse(request, refusal, page)


def _start_reply(
    request: AuthenticatedHttpRequest,
    conversation: Conversation,
    start: Callable[[], Message],
    *,
    whole_thread: bool = False,
    form: MessageForm | None = None,
) -> HttpResponseBase:
    """
    A send, edit or regenerate: within the send rate, ``start`` makes the
    reply, and every way it can be refused is answered alike.
    """
    try:
        reply = start()
    except replies.AlreadySent as sent:
        return _reply_started(request, sent.reply, whole_thread=True, replay=True)
    except Refusal as refusal:
        # A reply in progress, a reply that cannot be continued, a message too long for the
        # model, images it cannot take, the send rate or the quota: nothing was stored or sent.
        return _refuse(request, refusal, conversation, form)
    return _reply_started(request, reply, whole_thread=whole_thread)


# --- Pages -------------------------------------------------------------------


def _attached(request: AuthenticatedHttpRequest) -> list[StoredFile]:
    wanted = request.GET.getlist("attach") or request.POST.getlist("attach")
    return StoredFile.objects.for_user(request.user).images().by_ids(wanted) or []


@login_required
@require_GET
def home(request: AuthenticatedHttpRequest) -> HttpResponse:
    return _home_page(request)


def _home_page(
    request: AuthenticatedHttpRequest, *, form: MessageForm | None = None, status: int = 200
) -> HttpResponse:
    offer = catalog.offer(request.user)
    context = {
        "form": form or NewConversationForm(models=offer.names),
        # "Use in chat" from the studio or the library: the image waits in the composer.
        "attached": _attached(request),
        "offer": offer,
        "quota": quotas.status_for(request.user),
    }
    return render(request, "chat/home.html", context, status=status)


@login_required
@require_GET
def conversation(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    return _conversation_page(request, _get_conversation_for_user(request, pk))


def _conversation_page(
    request: AuthenticatedHttpRequest,
    conversation: Conversation,
    *,
    form: MessageForm | None = None,
    settings_form: ConversationSettingsForm | None = None,
    status: int = 200,
) -> HttpResponse:
    offer = catalog.offer(request.user)
    context = {
        "conversation": conversation,
        "thread": _thread(request, conversation),
        "form": form or MessageForm(),
        "settings_form": settings_form or ConversationSettingsForm(instance=conversation, choices=offer.choices),
        "offer": offer,
        "quota": quotas.status_for(request.user),
    }
    return render(request, "chat/conversation.html", context, status=status)


# --- Sending -----------------------------------------------------------------


@login_required
@require_POST
def start_conversation(request: AuthenticatedHttpRequest) -> HttpResponseBase:
    offer = catalog.offer(request.user)
    form = NewConversationForm(request.POST, request.FILES, models=offer.names, owner=request.user)
    if not form.is_valid():
        message = errors_of(form)
        if wants_json(request):
            return JsonResponse({"error": message}, status=400)
        return _home_page(request, form=form, status=400)
    model = form.cleaned_data["model"] or offer.default
    if not model:
        return _refuse(request, Refusal(offer.problem, status=503), None, form)
    data = form.cleaned_data
    try:
        reply = replies.start(request.user, model, data["text"], data["client_id"], data["images"], data["attach"])
    except Refusal as refusal:
        return _refuse(request, refusal, None, form)
    except replies.AlreadySent as sent:
        # The chat exists already: go to it.
        url = reverse("chat:conversation", args=[sent.reply.conversation_id])
        return JsonResponse({"redirect": url}) if wants_json(request) else redirect(url)
    conversation = reply.conversation
    url = reverse("chat:conversation", args=[conversation.pk])
    if not wants_stream(request):
        if wants_json(request):
            replies.start_in_background(reply, request.user)
            return JsonResponse({"redirect": url})
        return _reply_started(request, reply, whole_thread=False)
    # The page becomes the conversation's without a reload: its address, title and header.
    settings_form = ConversationSettingsForm(instance=conversation, choices=offer.choices)
    page = {
        "url": url,
        "send": reverse("chat:send", args=[conversation.pk]),
        "changes": reverse("chat:changes", args=[conversation.pk]),
        "title": conversation.display_title,
        "header": render_to_string(
            "chat/_conversation_header.html", {"conversation": conversation, "settings_form": settings_form}, request
        ),
    }
    return _reply_started(request, reply, whole_thread=False, extra={"conversation": page})


@login_required
@require_POST
def send(request: AuthenticatedHttpRequest, pk: int) -> HttpResponseBase:
    conversation = _get_conversation_for_user(request, pk)
    form = MessageForm(request.POST, request.FILES, owner=request.user)
    if not form.is_valid():
        message = errors_of(form)
        if wants_json(request):
            return JsonResponse({"error": message}, status=400)
        return _conversation_page(request, conversation, form=form, status=400)
    data = form.cleaned_data
    return _start_reply(
        request,
        conversation,
        lambda: replies.send(conversation, data["text"], data["client_id"], data["images"], data["attach"]),
        form=form,
    )


@login_required
@require_POST
def regenerate(request: AuthenticatedHttpRequest, pk: int) -> HttpResponseBase:
    message = _get_message_for_user(request, pk)
    if message.role != Message.Role.ASSISTANT:
        return _refuse(request, Refusal(_("Only a reply can be regenerated.")), message.conversation)
    return _start_reply(request, message.conversation, lambda: replies.regenerate(message), whole_thread=True)


@login_required
@require_POST
def continue_reply(request: AuthenticatedHttpRequest, pk: int) -> HttpResponseBase:
    message = _get_message_for_user(request, pk)
    if message.role != Message.Role.ASSISTANT:
        return _refuse(request, Refusal(_("Only a reply can be continued.")), message.conversation)
    return _start_reply(request, message.conversation, lambda: replies.continue_reply(message), whole_thread=True)


@login_required
@require_POST
def edit(request: AuthenticatedHttpRequest, pk: int) -> HttpResponseBase:
    message = _get_message_for_user(request, pk)
    if message.role != Message.Role.USER:
        return _refuse(request, Refusal(_("Only your own messages can be edited.")), message.conversation)
    form = MessageForm(request.POST)
    if not form.is_valid():
        return _refuse(request, Refusal(errors_of(form)), message.conversation)
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
def select_version(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    message = _get_message_for_user(request, pk)
    replies.select_version(message)
    conversation = message.conversation
    if wants_json(request):
        return JsonResponse({"thread": _thread_html(request, conversation)})
    return redirect(reverse("chat:conversation", args=[conversation.pk]) + f"#m{message.pk}")


@login_required
@require_POST
def stop(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    message = _get_message_for_user(request, pk)
    if message.is_live:
        replies.stop(message)
    if wants_json(request):
        return JsonResponse({"stopped": True})
    return redirect(reverse("chat:conversation", args=[message.conversation_id]) + f"#m{message.pk}")


@login_required
@require_GET
def stream(request: AuthenticatedHttpRequest, pk: int) -> StreamingHttpResponse:
    message = _get_message_for_user(request, pk)
    return streaming.response(message, lambda m: _message_html(request, m))


@login_required
@require_GET
def changes(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """
    For another tab open on the conversation: nothing (204) while the path
    shown still ends at ``leaf``, else the thread as it is now, whose live
    reply the page then follows. One indexed read when nothing changed.
    """
    conversation = _get_conversation_for_user(request, pk)
    if str(conversation.current_leaf_id or "") == request.GET.get("leaf", ""):
        return HttpResponse(status=204)
    return JsonResponse({"leaf": conversation.current_leaf_id, "thread": _thread_html(request, conversation)})


# --- Managing conversations ----------------------------------------------------


@login_required
@require_POST
def update_settings(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    conversation = _get_conversation_for_user(request, pk)
    form = ConversationSettingsForm(request.POST, instance=conversation, choices=catalog.offer(request.user).choices)
    if not form.is_valid():
        # Re-read: a failed ModelForm leaves its cleaned values on the instance.
        return _conversation_page(request, _get_conversation_for_user(request, pk), settings_form=form, status=400)
    form.save()
    flash.success(request, _("Saved."))
    return redirect("chat:conversation", pk=conversation.pk)


@login_required
@require_POST
def toggle_pin(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    conversation = _get_conversation_for_user(request, pk)
    Conversation.objects.filter(pk=conversation.pk).update(pinned=not conversation.pinned)
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("chat:conversation", args=[pk])
    return redirect(target)


@login_required
@require_http_methods(["GET", "POST"])
def delete(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    conversation = _get_conversation_for_user(request, pk)
    if request.method == "POST":
        replies.delete_conversation(conversation)
        flash.success(request, _("Conversation deleted."))
        return redirect("chat:home")
    return render(request, "chat/confirm_delete.html", {"conversation": conversation})


# --- The user's own settings -------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def account(request: AuthenticatedHttpRequest) -> HttpResponse:
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
        "form": form,
        "theme_form": ThemeForm(instance=request.user),
        "personal": personal,
        "accesses": ContentAccess.objects.filter(owner=request.user).select_related("conversation")[:ACCESSES_SHOWN],
    }
    return render(request, "chat/account.html", context, status=status)
