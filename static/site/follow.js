// Following one piece of background work from its card, over the server-sent
// events of jobs.following: "progress" events while it moves (for work that
// says how far it is), then "end" with the card's finished HTML, which takes
// the card's place. One stream per card, however often a card is wired; a
// reload follows again from the start. EventSource reconnects by itself after
// a network error; a 404 closes it for good.
const following = new Map();

// `card` carries data-follow (the stream) and data-id, and its id is `${prefix}${data-id}`.
// `progress(card, data)` draws a progress event; `ended(card, data)` may handle the end itself
// (returning true); otherwise the card is replaced, and `replaced(newCard)` wires the new one.
// `stopped()` runs when following ends, however it ends. True when this call started following.
export function followCard(card, prefix, { progress, ended, replaced, stopped } = {}) {
  const url = card?.dataset.follow;
  const id = card?.dataset.id;
  if (!url || following.has(url)) return false;
  const source = new EventSource(url);
  const stop = () => {
    source.close();
    following.delete(url);
    stopped?.();
  };
  following.set(url, stop);
  if (progress) {
    source.addEventListener("progress", (event) => {
      const current = document.getElementById(`${prefix}${id}`);
      if (current) progress(current, JSON.parse(event.data));
    });
  }
  source.addEventListener("end", (event) => {
    const data = JSON.parse(event.data);
    stop();
    const current = document.getElementById(`${prefix}${id}`);
    if (!current || ended?.(current, data)) return;
    if (data.html) current.outerHTML = data.html;
    else current.remove();
    replaced?.(document.getElementById(`${prefix}${id}`));
  });
  source.onerror = () => { if (source.readyState === EventSource.CLOSED) stop(); };
  return true;
}

// The seconds since a card's work started (its data-started, Unix seconds), counted in its .elapsed.
export function countSeconds(card) {
  const started = Number(card.dataset.started) * 1000;
  const elapsed = card.querySelector(".elapsed");
  return setInterval(() => {
    if (elapsed) elapsed.textContent = `${Math.max(0, Math.round((Date.now() - started) / 1000))} s`;
  }, 1000);
}
