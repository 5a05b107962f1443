// The audio page: a file is uploaded without leaving the page and followed
// over server-sent events until its text is there; a reload re-attaches.
import { countSeconds, followCard } from "../site/follow.js";
import { postJSON as post } from "../site/json.js";
const form = document.getElementById("audio-form");
const runs = document.getElementById("runs");
const errorBox = form?.querySelector(".studio-error");

function showError(message) {
  if (!errorBox) return;
  errorBox.textContent = message || "";
  errorBox.hidden = !message;
}

function follow(item) {
  let timer;
  const following = followCard(item, "t", {
    // The transcript's own page shows the whole text: it is drawn by the server.
    ended: (current, data) => {
      if (form || data.status !== "complete") return false;
      window.location.reload();
      return true;
    },
    replaced: wire,
    stopped: () => clearInterval(timer),
  });
  if (following) timer = countSeconds(item);
}

function started(data) {
  if (!runs) return;
  runs.querySelectorAll(".empty-runs").forEach((li) => li.remove());
  runs.insertAdjacentHTML("afterbegin", data.html);
  wire(document.getElementById(`t${data.id}`));
}

function wire(item) {
  if (!item) return;
  follow(item);
  item.querySelectorAll("form.retry-form, form.delete-form").forEach((action) => {
    action.addEventListener("submit", async (event) => {
      event.preventDefault();
      showError("");
      try {
        const data = await post(action.action, new FormData(action));
        if (data.deleted) {
          if (form) item.remove();
          else window.location.assign(runs.dataset.back || "/audio/");
        } else {
          // A retry takes the failed run's place.
          if (action.classList.contains("retry-form")) item.remove();
          started(data);
        }
      } catch (err) {
        showError(err.message);
      }
    });
  });
}

let sending = false;
form?.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (sending) return;
  sending = true;
  form.classList.add("busy");
  showError("");
  try {
    started(await post(form.action, new FormData(form)));
    form.querySelector('input[type="file"]').value = "";
  } catch (err) {
    showError(err.message);
  } finally {
    sending = false;
    form.classList.remove("busy");
  }
});

runs?.querySelectorAll("li.transcription").forEach(wire);
document.documentElement.dataset.audioReady = "1";
