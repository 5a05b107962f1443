// The composer: drafts that survive a reload, Enter to send, and the first
// send of a new chat turning the page into that conversation's page.
import { initAttachments } from "./attach.js";
import { newClientId } from "./http.js";
import { onReplyEnd, startReply } from "./thread.js";
import { watchConversation } from "./watch.js";

function becomeConversation(composer, page) {
  history.replaceState(null, "", page.url);
  composer.setAttribute("action", page.send);
  const scroller = document.getElementById("thread-wrap");
  if (scroller && page.header) scroller.insertAdjacentHTML("beforebegin", page.header);
  document.querySelectorAll(".empty-state, .composer-options.new-only").forEach((el) => el.remove());
  document.title = `${page.title} · ${document.body.dataset.siteName}`;
  watchConversation(page.changes);
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

export function initComposer() {
  const composer = document.getElementById("composer");
  const textarea = composer && composer.querySelector("textarea");
  const errorBox = composer && composer.querySelector(".composer-error");
  const showError = (message) => {
    if (!errorBox) return;
    errorBox.textContent = message || "";
    errorBox.hidden = !message;
  };
  if (!composer || !textarea) return showError;

  const draftKey = () => "aitre-draft:" + composer.getAttribute("action");
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

  // After a reply (or a Stop pressed inside it), typing goes on in the box,
  // unless the user has moved somewhere else meanwhile.
  onReplyEnd((status, hadFocus) => {
    const idle = !document.activeElement || document.activeElement === document.body;
    if (hadFocus || idle || status === "complete") textarea.focus();
  });
  const attachments = initAttachments(composer, showError);

  let sending = false;
  composer.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (sending || (!textarea.value.trim() && !attachments.count())) return;
    sending = true;
    composer.classList.add("busy");
    showError("");
    const key = draftKey();
    try {
      await startReply(composer, {
        onStart: (d) => { if (d.conversation) becomeConversation(composer, d.conversation); },
      });
      // The next message is a new submit; a retry of this one kept the old id.
      const clientId = composer.querySelector('input[name="client_id"]');
      if (clientId) clientId.value = newClientId();
      localStorage.removeItem(key);
      attachments.clear();
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
  return showError;
}
