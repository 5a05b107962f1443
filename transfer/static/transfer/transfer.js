// While an export is being built or an import written, ask how it is doing
// every few seconds and show the page again (with the download link, or the
// import's result) once it has ended.
const POLL_MS = 2000;
const pending = [...document.querySelectorAll("[data-status-url]")];

async function check() {
  for (const row of pending) {
    try {
      const response = await fetch(row.dataset.statusUrl, { headers: { Accept: "application/json" } });
      if (!response.ok) continue;
      const state = await response.json();
      if (!state.pending) {
        window.location.reload();
        return;
      }
      // Said only while no worker is there to take it: it goes once one starts.
      const hint = row.querySelector(".import-waiting");
      if (hint) hint.hidden = !state.waiting;
      const progress = row.querySelector(".import-progress");
      if (progress && state.written) progress.textContent = progress.dataset.template.replace("{count}", state.written);
    } catch {
      // Offline for a moment: the next round asks again.
    }
  }
  setTimeout(check, POLL_MS);
}
if (pending.length) setTimeout(check, POLL_MS);
document.documentElement.dataset.transferReady = "1";
