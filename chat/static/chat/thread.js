// The thread: its buttons (stop, versions, regenerate, retry, edit) and
// starting a reply, whose answer is the reply's own stream.
import { addCopyButtons } from "./copy.js";
import { ResponseEvents } from "../site/events.js";
import { follow, isFollowed } from "./follow.js";
import { post } from "./http.js";
import { toBottom } from "./scroll.js";

export const thread = () => document.getElementById("thread");

let replyEnded = () => {};
// Sends of this page whose first event has not arrived: the thread is about to change.
let starting = 0;
export const isStarting = () => starting > 0;

// Called with the reply's final status (and whether focus was inside it), when a reply this page follows ends.
export function onReplyEnd(handler) {
  replyEnded = handler;
}

// Make fragments in `root` interactive; follow the live replies nobody follows yet.
export function enhance(root) {
  addCopyButtons(root);
  root.querySelectorAll("article.msg[data-stream]").forEach((article) => {
    if (!isFollowed(article)) follow(article, null, { onEnd: (status, hadFocus) => replyEnded(status, hadFocus) });
  });
}

// A send, regenerate, retry or edit. The new fragments arrive in the stream's
// first event; the reply is followed through that same stream, never a second one.
export async function startReply(form, { onStart } = {}) {
  starting += 1;
  let result;
  try {
    result = await post(form, { stream: true });
  } catch (err) {
    starting -= 1;
    throw err;
  }
  if (!(result instanceof ResponseEvents)) {
    starting -= 1;
    if (result.redirect) window.location.assign(result.redirect);
    return;
  }
  let started = false;
  const settle = () => { if (!started) { started = true; starting -= 1; } };
  result.addEventListener("broken", settle);
  result.addEventListener("end", settle);
  result.addEventListener("start", (event) => {
    settle();
    const d = JSON.parse(event.data);
    if (onStart) onStart(d);
    const list = thread();
    if (d.thread !== undefined) list.innerHTML = d.thread;
    else list.insertAdjacentHTML("beforeend", d.messages);
    const article = document.getElementById(`m${d.reply}`);
    if (article) follow(article, result, { onEnd: (status, hadFocus) => replyEnded(status, hadFocus) });
    enhance(list);
    toBottom();
  });
}

export function initThread(showError) {
  const list = thread();
  if (!list) return;
  list.addEventListener("submit", async (event) => {
    const form = event.target;
    event.preventDefault();
    const buttons = form.querySelectorAll("button");
    buttons.forEach((b) => { b.disabled = true; });
    showError("");
    try {
      if (form.matches(".starts-reply")) {
        await startReply(form);
      } else {
        const data = await post(form);
        if (data.thread !== undefined) {
          list.innerHTML = data.thread;
          enhance(list);
        }
      }
    } catch (err) {
      showError(err.message);
      buttons.forEach((b) => { b.disabled = false; });
    }
  });
  enhance(list);
  toBottom();
}
