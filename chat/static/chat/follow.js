// Following a reply: a snapshot, then deltas and rendered snapshots, then
// the final fragment. One follower per reply: its source is the send's own
// response, or an EventSource that re-attaches (after a reload, or when that
// response broke).
import { addCopyButtons } from "./copy.js";
import { open } from "../site/events.js";
import { nearBottom, toBottom } from "./scroll.js";

// Silence this long before the first token, and the reply says it is waiting.
const WAITING_NOTICE_MS = 3000;

const following = new Map(); // message id -> its source

// Is a fenced code block open at the end of `raw`?
const fenceOpen = (raw) => (raw.match(/^ {0,3}(```|~~~)/gm) || []).length % 2 === 1;

// Where the not-yet-rendered text continues: inside the last paragraph, list
// item or open code block (so a line is not broken mid-way), or after them.
function tailTarget(body, rendered) {
  let target = body.lastElementChild || body;
  while (target.lastElementChild && ["UL", "OL", "LI", "BLOCKQUOTE"].includes(target.tagName)) {
    target = target.lastElementChild;
  }
  if (target.tagName !== "PRE") return target;
  if (!fenceOpen(rendered)) return null; // a closed block: the text goes on after it
  const code = target.querySelector("code") || target;
  // An open fence renders with the newlines the text has and one more: the
  // tail brings its own (see the gap in paintTail).
  let last = code.lastChild;
  while (last && last.nodeType !== Node.TEXT_NODE && last.lastChild) last = last.lastChild;
  if (last && last.nodeType === Node.TEXT_NODE) last.textContent = last.textContent.replace(/\n+$/, "");
  return code;
}

// Markdown's marks in the not-yet-rendered text, hidden as the renderer will
// hide them, so "**", "[link](…)" or "`" never flash on screen between two
// renders: a link shows its words, emphasis and code their text.
export function plainTail(raw) {
  return raw
    .replace(/!?\[([^\]\n]*)\](\([^)\s]*\)?)?/g, "$1")
    .replace(/!?\[([^\]\n]*)$/, "$1")
    .replace(/\*\*|__|~~|`+/g, "")
    .replace(/(^|[\s(])[*_](?=\S)/g, "$1")
    .replace(/(\S)[*_](?=[\s).,!?;:]|$)/g, "$1")
    .replace(/^ {0,3}#{1,6}[ \t]+/gm, "")
    .replace(/^ {0,3}>[ \t]?/gm, "");
}

// A fence line closing the code block the rendered part left open.
const CLOSING_FENCE = /(^|\n) {0,3}(```|~~~)[ \t]*(?=\n|$)/;

// The raw text past the rendered part, placed so that nothing runs together:
// the whitespace the renderer trimmed at the boundary is put back.
export function paintTail(body, text, renderedUpto) {
  const tail = text.slice(renderedUpto);
  if (!tail) return;
  const rendered = text.slice(0, renderedUpto);
  const gap = rendered.match(/\s*$/)[0];
  const target = renderedUpto ? tailTarget(body, rendered) : body;
  if (target && target.closest && target.closest("pre")) {
    // Code stays as written; what follows its closing fence goes after the block.
    const close = tail.match(CLOSING_FENCE);
    const span = document.createElement("span");
    span.className = "stream-tail";
    span.textContent = gap + (close ? tail.slice(0, close.index) : tail);
    target.appendChild(span);
    const after = close ? plainTail(tail.slice(close.index + close[0].length)).replace(/^\s+/, "") : "";
    if (after) {
      const paragraph = document.createElement("p");
      paragraph.className = "stream-tail";
      paragraph.textContent = after;
      body.appendChild(paragraph);
    }
    return;
  }
  if (!target || /\n[ \t]*\n/.test(gap)) {
    // A new paragraph begins.
    const paragraph = document.createElement("p");
    paragraph.className = "stream-tail";
    paragraph.textContent = plainTail(tail.replace(/^\s+/, ""));
    body.appendChild(paragraph);
    return;
  }
  const span = document.createElement("span");
  span.className = "stream-tail";
  span.textContent = (gap ? " " : "") + plainTail(tail);
  target.appendChild(span);
}

// The finished reply, read once to screen readers (the thread itself is not
// a live region: every token would be read). Errors are alerts of their own.
function announceEnd(article, status) {
  if (status !== "complete" && status !== "stopped") return;
  const labels = document.body.dataset;
  const heading = status === "stopped" ? labels.replyStopped : labels.replied;
  const body = (article.querySelector(".msg-body") || article).cloneNode(true);
  body.querySelectorAll("button").forEach((button) => button.remove());
  const text = body.textContent.replace(/\s+/g, " ").trim();
  document.dispatchEvent(new CustomEvent("announce", { detail: `${heading}: ${text}` }));
}

export function isFollowed(article) {
  return following.has(article.dataset.id);
}

export function follow(article, source, { onEnd } = {}) {
  const id = article.dataset.id;
  if (following.has(id)) return;
  const body = article.querySelector(".msg-body");
  const waiting = article.querySelector(".waiting");
  let text = "";
  let renderedUpto = 0;
  let renderedHtml = body.innerHTML;
  let painting = false;
  let ended = false;
  const waitingTimer = waiting && setTimeout(() => { if (!text) waiting.hidden = false; }, WAITING_NOTICE_MS);

  const paint = () => {
    if (painting) return;
    painting = true;
    requestAnimationFrame(() => {
      painting = false;
      if (ended) return;
      if (text && waiting) waiting.hidden = true;
      const stick = nearBottom();
      body.innerHTML = renderedHtml;
      paintTail(body, text, renderedUpto);
      addCopyButtons(body);
      if (stick) toBottom();
    });
  };

  source = source || open(article.dataset.stream);
  following.set(id, source);
  const on = (name, handler) => source.addEventListener(name, (e) => handler(JSON.parse(e.data)));
  on("snapshot", (d) => {
    // A re-attached stream starts again from what the reply has so far.
    if (d.text.length >= text.length) {
      text = d.text;
      renderedUpto = d.text.length;
      renderedHtml = d.html;
    }
    paint();
  });
  on("delta", (d) => {
    // Offsets make a re-delivered piece harmless; text never shrinks.
    if (d.o <= text.length && d.o + d.t.length > text.length) text = text.slice(0, d.o) + d.t;
    paint();
  });
  on("render", (d) => {
    if (d.upto >= renderedUpto && d.upto <= text.length) {
      renderedHtml = d.html;
      renderedUpto = d.upto;
    }
    paint();
  });
  on("end", (d) => {
    ended = true;
    clearTimeout(waitingTimer);
    source.close();
    following.delete(id);
    const stick = nearBottom();
    const holder = document.createElement("div");
    holder.innerHTML = d.html.trim();
    const finished = holder.firstElementChild;
    // Focus inside the reply (its Stop button) would be lost with it.
    const hadFocus = article.contains(document.activeElement);
    article.replaceWith(finished);
    addCopyButtons(finished);
    if (stick) toBottom();
    announceEnd(finished, d.status);
    if (onEnd) onEnd(d.status, hadFocus);
  });
  on("broken", () => {
    // The send's response broke off: re-attach; the reply goes on regardless.
    if (ended) return;
    clearTimeout(waitingTimer);
    following.delete(id);
    follow(article, null, { onEnd });
  });
}
