// The chat page: the composer, following replies live, and the thread's
// buttons. Every form here also works without this script (plain posts).
(() => {
  "use strict";

  const thread = document.getElementById("thread");
  const composer = document.getElementById("composer");
  const textarea = composer && composer.querySelector("textarea");
  const composerError = composer && composer.querySelector(".composer-error");
  const labels = document.body.dataset;
  const draftKey = composer ? "aitre-draft:" + composer.getAttribute("action") : "";

  const csrfToken = () => document.querySelector('meta[name="csrf-token"]').content;

  async function post(form) {
    let response;
    try {
      response = await fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        headers: { Accept: "application/json", "X-CSRFToken": csrfToken() },
        credentials: "same-origin",
      });
    } catch (err) {
      throw new Error(labels.offline);
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
    root.querySelectorAll("article.msg[data-stream]").forEach(follow);
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

  // --- Following a reply: a snapshot, then deltas and rendered snapshots, then the final fragment.
  function follow(article) {
    if (article.dataset.following) return;
    article.dataset.following = "1";
    const body = article.querySelector(".msg-body");
    let text = "";
    let renderedUpto = 0;
    let renderedHtml = body.innerHTML;
    let painting = false;

    const paint = () => {
      if (painting) return;
      painting = true;
      requestAnimationFrame(() => {
        painting = false;
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

    const source = new EventSource(article.dataset.stream);
    const on = (name, handler) => source.addEventListener(name, (e) => handler(JSON.parse(e.data)));
    on("snapshot", (d) => { text = d.text; renderedUpto = d.text.length; renderedHtml = d.html; paint(); });
    on("delta", (d) => {
      // Offsets make a re-delivered piece harmless.
      if (d.o <= text.length) text = text.slice(0, d.o) + d.t;
      paint();
    });
    on("render", (d) => { renderedHtml = d.html; renderedUpto = d.upto; paint(); });
    on("end", (d) => {
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
    // On a network error EventSource reconnects by itself and gets a fresh snapshot.
  }

  // --- The composer.
  if (composer && textarea) {
    const saved = localStorage.getItem(draftKey);
    if (saved && !textarea.value) textarea.value = saved;

    const autosize = () => {
      textarea.style.height = "auto";
      textarea.style.height = Math.min(textarea.scrollHeight, 320) + "px";
    };
    textarea.addEventListener("input", () => {
      localStorage.setItem(draftKey, textarea.value);
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
      try {
        const data = await post(composer);
        localStorage.removeItem(draftKey);
        if (data.redirect) {
          window.location.assign(data.redirect);
          return;
        }
        textarea.value = "";
        autosize();
        thread.insertAdjacentHTML("beforeend", data.messages);
        enhance(thread);
        toBottom();
      } catch (err) {
        // The text stays in the box (and in the saved draft).
        showError(err.message);
      } finally {
        sending = false;
        composer.classList.remove("busy");
      }
    });
  }

  // --- The thread's own forms: stop, regenerate, retry, edit, versions.
  if (thread) {
    thread.addEventListener("submit", async (event) => {
      const form = event.target;
      event.preventDefault();
      const buttons = form.querySelectorAll("button");
      buttons.forEach((b) => { b.disabled = true; });
      showError("");
      try {
        const data = await post(form);
        if (data.thread !== undefined) {
          thread.innerHTML = data.thread;
          enhance(thread);
          if (data.stream) toBottom();
        }
      } catch (err) {
        showError(err.message);
        buttons.forEach((b) => { b.disabled = false; });
      }
    });
    enhance(thread);
    toBottom();
  }
})();
