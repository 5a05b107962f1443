// Copy buttons: one on each code block, one on each finished reply.
import { labels } from "./http.js";

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

export function addCopyButtons(root) {
  root.querySelectorAll(".markdown pre").forEach((pre) => {
    if (pre.querySelector(".copy-code")) return;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "copy-code";
    button.textContent = labels.copy;
    pre.appendChild(button);
  });
  root.querySelectorAll(".copy-message[hidden]").forEach((b) => { b.hidden = false; });
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
