// The completions playground: the prompt is edited in place, the completion
// is streamed in after it, marked as generated, and everything in the editor
// (the marks included) is the prompt of the next submit.
import { ResponseEvents } from "../site/events.js";
import { csrfToken } from "../site/json.js";

const form = document.getElementById("pg-form");
const textarea = form.querySelector("textarea[name=prompt]");
const submit = document.getElementById("pg-submit");
const stopButton = document.getElementById("pg-stop");
const status = document.getElementById("pg-status");
const errorBox = document.getElementById("pg-error");
const choices = document.getElementById("pg-choices");
const logprobs = document.getElementById("pg-logprobs");
const output = document.getElementById("pg-output");

// The editor replaces the textarea; the textarea stays the form's field.
const editor = document.createElement("div");
editor.className = "pg-editor";
editor.id = "pg-editor";
editor.contentEditable = "plaintext-only";
editor.setAttribute("role", "textbox");
editor.setAttribute("aria-multiline", "true");
editor.setAttribute("aria-labelledby", "pg-prompt-label");
editor.append(document.createTextNode(textarea.value));
if (output) {
  const mark = document.createElement("mark");
  mark.className = "generated";
  mark.textContent = output.dataset.output;
  editor.append(mark);
  output.hidden = true;
}
textarea.hidden = true;
// A hidden field cannot show the browser's own message: an empty prompt gets the server's.
textarea.required = false;
textarea.after(editor);

let running = null; // { run, events }

const showError = (message) => {
  errorBox.textContent = message;
  errorBox.hidden = !message;
};

function renderLogprobs(data) {
  const tbody = logprobs.querySelector("tbody");
  tbody.replaceChildren();
  const tokens = (data && data.tokens) || [];
  tokens.forEach((token, i) => {
    const row = tbody.insertRow();
    const code = document.createElement("code");
    code.textContent = token;
    row.insertCell().append(code);
    const value = (data.token_logprobs || [])[i];
    row.insertCell().textContent = typeof value === "number" ? value.toFixed(3) : "";
    const top = (data.top_logprobs || [])[i];
    row.insertCell().textContent = top ? Object.entries(top).map(([t, p]) => `${JSON.stringify(t)} ${Number(p).toFixed(2)}`).join(", ") : "";
  });
  logprobs.hidden = !tokens.length;
}

function setRunning(on) {
  submit.disabled = on;
  stopButton.hidden = !on;
  stopButton.disabled = false;
  editor.contentEditable = on ? "false" : "plaintext-only";
  if (!on) {
    running = null;
    stopButton.blur();
    editor.focus();
  }
}

function addToHistory(run, title) {
  const list = document.getElementById("pg-history");
  document.getElementById("pg-no-runs")?.remove();
  list.querySelectorAll(".pg-run.current").forEach((item) => item.classList.remove("current"));
  const item = document.createElement("li");
  item.className = "pg-run current";
  const link = document.createElement("a");
  link.href = form.dataset.runUrl.replace("/0/", `/${run}/`);
  link.textContent = title;
  item.append(link);
  list.prepend(item);
  history.replaceState(null, "", link.href);
}

async function start(event) {
  event.preventDefault();
  if (running) return;
  showError("");
  // Everything shown is the prompt now: the old marks become plain text.
  const prompt = editor.innerText.replace(/\n$/, "");
  textarea.value = prompt;
  const body = new FormData(form);
  const controller = new AbortController();
  let response;
  setRunning(true);
  status.textContent = form.dataset.writing;
  try {
    response = await fetch(form.action, {
      method: "POST",
      body,
      headers: { Accept: "text/event-stream, application/json", "X-CSRFToken": csrfToken() },
      credentials: "same-origin",
      signal: controller.signal,
    });
  } catch (err) {
    showError(document.body.dataset.offline);
    status.textContent = "";
    setRunning(false);
    return;
  }
  if (!response.ok || !(response.headers.get("Content-Type") || "").startsWith("text/event-stream")) {
    let data = {};
    try { data = await response.json(); } catch (err) { /* not JSON */ }
    showError(data.error || `${document.body.dataset.failed} (${response.status})`);
    status.textContent = "";
    setRunning(false);
    return;
  }
  editor.replaceChildren(document.createTextNode(prompt));
  const mark = document.createElement("mark");
  mark.className = "generated";
  editor.append(mark);
  const others = choices.querySelector("ol");
  others.replaceChildren();
  choices.hidden = true;
  logprobs.hidden = true;
  const events = new ResponseEvents(response, controller);
  running = { run: null, events };
  events.addEventListener("start", (e) => { running.run = JSON.parse(e.data).run; });
  events.addEventListener("text", (e) => {
    const data = JSON.parse(e.data).choices;
    for (const [index, text] of Object.entries(data)) {
      if (index === "0") {
        mark.append(text);
        editor.scrollTop = editor.scrollHeight;
        continue;
      }
      while (others.children.length < Number(index)) others.append(document.createElement("li"));
      const item = others.children[Number(index) - 1];
      if (!item.firstChild) item.append(document.createElement("pre"));
      item.firstChild.append(text);
      choices.hidden = false;
    }
  });
  events.addEventListener("done", (e) => {
    const data = JSON.parse(e.data);
    events.closed = true;
    const parts = [data.status_label];
    if (data.prompt_tokens !== null && data.prompt_tokens !== undefined) {
      parts.push(form.dataset.tokens.replace("%(prompt)s", data.prompt_tokens).replace("%(completion)s", data.completion_tokens)
        + (data.estimated ? ` ${form.dataset.estimated}` : ""));
    }
    if (data.cut) parts.push(form.dataset.cut);
    status.textContent = parts.join(" · ");
    if (data.error) showError(data.error);
    renderLogprobs(data.logprobs);
    if (running && running.run) addToHistory(running.run, data.title);
    setRunning(false);
  });
  events.addEventListener("broken", () => {
    if (!running) return;
    status.textContent = "";
    showError(document.body.dataset.offline);
    setRunning(false);
  });
}

async function stop() {
  if (!running) return;
  stopButton.disabled = true;
  status.textContent = form.dataset.stopping;
  const current = running;
  if (current.run) {
    try {
      await fetch(form.dataset.stopUrl.replace("/0/", `/${current.run}/`), {
        method: "POST",
        headers: { Accept: "application/json", "X-CSRFToken": csrfToken() },
        credentials: "same-origin",
      });
    } catch (err) { /* the abort below stops it too */ }
  }
  // The server ends the stream with "done"; if it does not soon, the page lets go itself.
  setTimeout(() => { if (running === current) { current.events.close(); setRunning(false); } }, 3000);
}

form.addEventListener("submit", start);
stopButton.addEventListener("click", stop);
editor.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    form.requestSubmit();
  }
});
document.documentElement.dataset.playgroundReady = "1";
