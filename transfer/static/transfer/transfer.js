// While an export is being built, ask how it is doing every few seconds and
// show the page again (with its download link) once it is ready or failed.
const POLL_MS = 2000;
const pending = [...document.querySelectorAll("tr.export[data-status-url]")];

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
