// The chat page: the composer, following replies live, and the thread's
// buttons. Every form here also works without this script (plain posts).
(() => {
  "use strict";

  const thread = document.getElementById("thread");
  const composer = document.getElementById("composer");
  const textarea = composer && composer.querySelector("textarea");
  const composerError = composer && composer.querySelector(".composer-error");
  const labels = document.body.dataset;
  const draftKey = () => "aitre-draft:" + composer.getAttribute("action");

  // crypto.randomUUID() needs a secure context; getRandomValues does not.
  const newClientId = () =>
    Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");

  const csrfToken = () => document.querySelector('meta[name="csrf-token"]').content;

  // Server-sent events read from a fetch() response: the answer to a send
  // is the reply's own stream. Same interface as EventSource.
  class ResponseEvents {
    constructor(response, controller) {
      this.listeners = {};
      this.controller = controller;
      this.closed = false;
      this.pump(response);
    }

    addEventListener(name, handler) {
      (this.listeners[name] = this.listeners[name] || []).push(handler);
    }

    close() {
      this.closed = true;
      this.controller.abort();
    }

    emit(name, data) {
      (this.listeners[name] || []).forEach((handler) => handler({ data }));
    }

    dispatch(block) {
      let name = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length) this.emit(name, data.join("\n"));
    }

    async pump(response) {
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value.replace(/\r\n/g, "\n");
          let end;
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            this.dispatch(buffer.slice(0, end));
            buffer = buffer.slice(end + 2);
          }
        }
      } catch (err) {
        // Aborted, or the network broke: "broken" below says which matters.
      }
      if (!this.closed) this.emit("broken", "{}");
    }
  }

  async function post(form, { stream = false } = {}) {
    const controller = new AbortController();
    let response;
    try {
      response = await fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        headers: {
          Accept: stream ? "text/event-stream, application/json" : "application/json",
          "X-CSRFToken": csrfToken(),
        },
        credentials: "same-origin",
        signal: controller.signal,
      });
    } catch (err) {
      throw new Error(labels.offline);
    }
    if (response.ok && (response.headers.get("Content-Type") || "").startsWith("text/event-stream")) {
      return new ResponseEvents(response, controller);
    }
    let data = {};
    try { data = await response.json(); } catch (err) { /* not JSON: use the status */ }
    if (!response.ok) throw new Error(data.error || `${labels.failed} (${response.status})`);
    return data;
  }

  function showError(message) {
    if (!composerError) return;
    composerError.textContent = message || "";
    composerError.hidden = !message;
  }

  // --- Scrolling: stay at the bottom while a reply grows, unless the user scrolled up.
  const scroller = document.getElementById("thread-wrap");
  const nearBottom = () => !scroller || scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
  const toBottom = () => { if (scroller) scroller.scrollTop = scroller.scrollHeight; };

  // --- Code blocks get a copy button; replies get a copy button.
  async function copyText(text, button) {
    try {
      await navigator.clipboard.writeText(text);
    } catch (err) {
      const area = document.createElement("textarea");
      area.value = text;
      document.body.appendChild(area);
      area.select();
      document.execCommand("copy");
      area.remove();
    }
    const before = button.textContent;
    button.textContent = labels.copied;
    setTimeout(() => { button.textContent = before; }, 1200);
  }

  function enhance(root) {
    root.querySelectorAll(".markdown pre").forEach((pre) => {
      if (pre.querySelector(".copy-code")) return;
      const button = document.createElement("button");
      button.type = "button";
      button.className = "copy-code";
      button.textContent = labels.copy;
      pre.appendChild(button);
    });
    root.querySelectorAll(".copy-message[hidden]").forEach((b) => { b.hidden = false; });
    root.querySelectorAll("article.msg[data-stream]").forEach((article) => follow(article));
  }

  document.addEventListener("click", (event) => {
    const codeButton = event.target.closest(".copy-code");
    if (codeButton) {
      const code = codeButton.parentElement.querySelector("code");
      copyText((code || codeButton.parentElement).textContent, codeButton);
      return;
    }
    const messageButton = event.target.closest(".copy-message");
    if (messageButton) {
      const body = messageButton.closest("article").querySelector(".msg-body");
      copyText(body.innerText, messageButton);
    }
  });

  // Where the not-yet-rendered text continues: inside the last paragraph,
  // list item or open code block, so a line is not broken mid-way.
  function tailTarget(body) {
    let target = body.lastElementChild || body;
    while (target.lastElementChild && ["UL", "OL", "LI", "BLOCKQUOTE"].includes(target.tagName)) {
      target = target.lastElementChild;
    }
    if (target.tagName === "PRE") {
      const code = target.querySelector("code") || target;
      const last = code.lastChild;
      // An open fence renders with a closing newline the text does not have yet.
      if (last && last.nodeType === Node.TEXT_NODE) last.textContent = last.textContent.replace(/\n$/, "");
      else if (last && last.lastChild && last.lastChild.nodeType === Node.TEXT_NODE) {
        last.lastChild.textContent = last.lastChild.textContent.replace(/\n$/, "");
      }
      return code;
    }
    return target;
  }

  // --- Following a reply: a snapshot, then deltas and rendered snapshots,
  // then the final fragment. The source is the send's own response, or an
  // EventSource that re-attaches (after a reload, or when that response broke).
  function follow(article, source) {
    if (article.dataset.following) return;
    article.dataset.following = "1";
    const body = article.querySelector(".msg-body");
    let text = "";
    let renderedUpto = 0;
    let renderedHtml = body.innerHTML;
    let painting = false;
    let ended = false;

    const paint = () => {
      if (painting) return;
      painting = true;
      requestAnimationFrame(() => {
        painting = false;
        if (ended) return;
        const stick = nearBottom();
        body.innerHTML = renderedHtml;
        if (text.length > renderedUpto) {
          const tail = document.createElement("span");
          tail.className = "stream-tail";
          tail.textContent = text.slice(renderedUpto);
          tailTarget(body).appendChild(tail);
        }
        enhance(body);
        if (stick) toBottom();
      });
    };

    source = source || new EventSource(article.dataset.stream);
    const on = (name, handler) => source.addEventListener(name, (e) => handler(JSON.parse(e.data)));
    on("snapshot", (d) => { text = d.text; renderedUpto = d.text.length; renderedHtml = d.html; paint(); });
    on("delta", (d) => {
      // Offsets make a re-delivered piece harmless.
      if (d.o <= text.length) text = text.slice(0, d.o) + d.t;
      paint();
    });
    on("render", (d) => { renderedHtml = d.html; renderedUpto = d.upto; paint(); });
    on("end", (d) => {
      ended = true;
      source.close();
      const stick = nearBottom();
      const holder = document.createElement("div");
      holder.innerHTML = d.html.trim();
      const finished = holder.firstElementChild;
      article.replaceWith(finished);
      enhance(finished);
      if (stick) toBottom();
      if (d.status === "complete" && textarea) textarea.focus();
    });
    on("broken", () => {
      // The send's response broke off: re-attach, the reply goes on regardless.
      if (ended) return;
      delete article.dataset.following;
      follow(article);
    });
    // An EventSource reconnects by itself after a network error and gets a fresh snapshot.
  }

  // A send, regenerate, retry or edit: the response is the new reply's stream.
  async function startReply(form) {
    const result = await post(form, { stream: true });
    if (!(result instanceof ResponseEvents)) {
      if (result.redirect) window.location.assign(result.redirect);
      return;
    }
    result.addEventListener("start", (event) => {
      const d = JSON.parse(event.data);
      if (d.conversation) becomeConversation(d.conversation);
      if (d.thread !== undefined) thread.innerHTML = d.thread;
      else thread.insertAdjacentHTML("beforeend", d.messages);
      enhance(thread);
      const article = document.getElementById(`m${d.reply}`);
      if (article) {
        delete article.dataset.following;
        follow(article, result);
      }
      toBottom();
    });
  }

  // The first send from "New chat": the page becomes the conversation's page.
  function becomeConversation(page) {
    history.replaceState(null, "", page.url);
    composer.setAttribute("action", page.send);
    if (scroller && page.header) scroller.insertAdjacentHTML("beforebegin", page.header);
    document.querySelectorAll(".empty-state, .composer-options.new-only").forEach((el) => el.remove());
    document.title = `${page.title} · AITRE Web`;
    const list = document.querySelector(".conversation-list");
    if (list) {
      list.querySelectorAll("li.muted").forEach((li) => li.remove());
      const item = document.createElement("li");
      item.className = "current";
      const link = document.createElement("a");
      link.href = page.url;
      link.textContent = page.title;
      item.appendChild(link);
      list.prepend(item);
    }
  }

  // --- The composer.
  if (composer && textarea) {
    const saved = localStorage.getItem(draftKey());
    if (saved && !textarea.value) textarea.value = saved;

    const autosize = () => {
      textarea.style.height = "auto";
      textarea.style.height = Math.min(textarea.scrollHeight, 320) + "px";
    };
    textarea.addEventListener("input", () => {
      localStorage.setItem(draftKey(), textarea.value);
      autosize();
    });
    autosize();

    textarea.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        composer.requestSubmit();
      }
    });

    let sending = false;
    composer.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (sending || !textarea.value.trim()) return;
      sending = true;
      composer.classList.add("busy");
      showError("");
      const key = draftKey();
      try {
        await startReply(composer);
        // The next message is a new submit; a retry of this one kept the old id.
        const clientId = composer.querySelector('input[name="client_id"]');
        if (clientId) clientId.value = newClientId();
        localStorage.removeItem(key);
        textarea.value = "";
        autosize();
      } catch (err) {
        // The text stays in the box (and in the saved draft).
        showError(err.message);
      } finally {
        sending = false;
        composer.classList.remove("busy");
      }
    });
  }

  // --- The thread's own forms: stop, versions (JSON); regenerate, retry, edit (a new reply).
  if (thread) {
    thread.addEventListener("submit", async (event) => {
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
            thread.innerHTML = data.thread;
            enhance(thread);
          }
        }
      } catch (err) {
        showError(err.message);
        buttons.forEach((b) => { b.disabled = false; });
      }
    });
    enhance(thread);
    toBottom();
  }
  // Tests (and anything else) can tell the page is fully interactive.
  document.documentElement.dataset.chatReady = "1";
})();
