// While an export is being built or an import written, ask how it is doing
// every few seconds and show the page again (with the download link, or the
// import's result) once it has ended.
const POLL_MS = 2000;
const pending = [...document.querySelectorAll("[data-status-url]")];

async function check() {
  for (const row of pending) {
    try {
      const response = await fetch(row.dataset.statusUrl, { headers: { Accept: "application/json" } });
      if (response.ok && !(await response.json()).pending) {
        window.location.reload();
        return;
      }
    } catch {
      // Offline for a moment: the next round asks again.
    }
  }
  setTimeout(check, POLL_MS);
}
if (pending.length) setTimeout(check, POLL_MS);
document.documentElement.dataset.transferReady = "1";
