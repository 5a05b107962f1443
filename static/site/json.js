// A form's worth of fields POSTed the way the pages' scripts do: CSRF token,
// JSON answers, and the server's own words when it refuses.
export const csrfToken = () => document.querySelector('meta[name="csrf-token"]').content;

export async function postJSON(url, body) {
  const response = await fetch(url, {
    method: "POST",
    body,
    headers: { Accept: "application/json", "X-CSRFToken": csrfToken() },
    credentials: "same-origin",
  });
  let data = {};
  try { data = await response.json(); } catch (err) { /* not JSON */ }
  if (!response.ok) {
    const error = new Error(data.error || `${document.body.dataset.failed} (${response.status})`);
    // What else the server said with its refusal (a card to show, say).
    error.data = data;
    throw error;
  }
  return data;
}
