// Talking to the site: posts that answer with JSON or with a reply's event stream.
import { ResponseEvents } from "../site/events.js";
import { csrfToken } from "../site/json.js";

export const labels = document.body.dataset;

// crypto.randomUUID() needs a secure context; getRandomValues does not.
export const newClientId = () =>
  Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");

// Submit `form` as the page would, asking for JSON (or, with `stream`, for
// the new reply's event stream). Refusals come back as { error } with a 4xx:
// they are thrown with the server's message.
export async function post(form, { stream = false } = {}) {
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
