// The Midjourney page and a task's page: forms sent without leaving the page
// (the prompt stays when the gateway refuses), each running task followed
// over server-sent events (progress, queue place and preview move without a
// reload; a reload re-attaches), the task's own buttons pressed in place, and
// a mask painted over the picture for "vary region".
import { followCard } from "../site/follow.js";
import { postJSON as post } from "../site/json.js";

const list = document.getElementById("tasks");
const errorBox = document.querySelector(".mj-error");

function showError(message) {
  if (!errorBox) return;
  errorBox.textContent = message || "";
  errorBox.hidden = !message;
}

function drawProgress(card, data) {
  const bar = card.querySelector("progress");
  if (bar) { bar.value = data.progress; bar.textContent = `${data.progress}%`; }
  const percent = card.querySelector("[data-percent]");
  if (percent) percent.textContent = `${data.progress}%`;
  const status = card.querySelector("[data-status]");
  if (status && status.textContent !== data.label) {
    status.textContent = data.label;
    // A screen reader hears the status change, not every percent.
    const announce = card.querySelector("[data-announce]");
    if (announce) announce.textContent = data.label;
  }
  const queue = card.querySelector("[data-queue]");
  if (queue) {
    queue.hidden = !data.queue;
    queue.querySelector("[data-queue-number]").textContent = data.queue || "";
  }
  const stalled = card.querySelector("[data-stalled]");
  if (stalled) stalled.hidden = !data.stalled;
  const preview = card.querySelector("[data-preview]");
  if (preview && data.preview && preview.getAttribute("src") !== data.preview) {
    preview.src = data.preview;
    card.querySelector("[data-preview-box]").hidden = false;
  }
}

function added(data) {
  list.querySelectorAll(".empty-runs").forEach((li) => li.remove());
  const existing = document.getElementById(`t${data.id}`);
  if (existing) existing.outerHTML = data.html;
  else list.insertAdjacentHTML("afterbegin", data.html);
  const card = document.getElementById(`t${data.id}`);
  wire(card);
  return card;
}

async function send(form, onDone) {
  if (form.classList.contains("busy")) return;
  form.classList.add("busy");
  showError("");
  try {
    const data = await post(form.action, new FormData(form));
    onDone(data);
  } catch (err) {
    // A refusal (banned word, queue full…): the form keeps what was typed.
    showError(err.message);
    if (err.data?.html) added(err.data);
  } finally {
    form.classList.remove("busy");
  }
}

function wire(card) {
  if (!card) return;
  followCard(card, "t", { progress: drawProgress, replaced: wire });
  card.querySelectorAll("form.press-form, form.retry-form, form.split-form, form.imagine-this").forEach((form) => {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      send(form, (data) => {
        const made = added(data);
        if (made && made.classList.contains("status-modal")) {
          window.location.href = made.querySelector("a").href + "#modal";
        } else if (made) {
          made.scrollIntoView({ block: "nearest" });
        }
      });
    });
  });
  card.querySelectorAll("form.delete-form").forEach((form) => {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      send(form, () => {
        card.remove();
        // A task's own page has nothing left to show.
        if (list.dataset.home) window.location.assign(list.dataset.home);
      });
    });
  });
}

// The forms of the main page: one at a time is shown (tabs), each sent in place.
document.querySelectorAll("form.mj-form").forEach((form) => {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    send(form, (data) => {
      added(data);
      if (data.error) showError(data.error);
    });
  });
});

document.querySelectorAll(".mj-tabs [data-tab]").forEach((tab) => {
  tab.addEventListener("click", (event) => {
    event.preventDefault();
    document.querySelectorAll(".mj-tabs [data-tab]").forEach((other) => other.setAttribute("aria-selected", String(other === tab)));
    document.querySelectorAll("[data-panel]").forEach((panel) => { panel.hidden = panel.dataset.panel !== tab.dataset.tab; });
    history.replaceState(null, "", `?tab=${tab.dataset.tab}`);
  });
});

// Vary region: paint white where the picture is to be redrawn, over a black "keep" mask.
const canvas = document.getElementById("mask-canvas");
if (canvas) {
  const context = canvas.getContext("2d");
  const brush = document.getElementById("brush-size");
  const reset = () => { context.fillStyle = "#000"; context.fillRect(0, 0, canvas.width, canvas.height); };
  reset();
  let painting = false;
  let painted = false;
  const at = (event) => {
    const box = canvas.getBoundingClientRect();
    return [(event.clientX - box.left) * (canvas.width / box.width), (event.clientY - box.top) * (canvas.height / box.height)];
  };
  const dab = (event) => {
    const [x, y] = at(event);
    const radius = Number(brush.value) * (canvas.width / canvas.getBoundingClientRect().width) / 2;
    context.fillStyle = "#fff";
    context.beginPath();
    context.arc(x, y, radius, 0, Math.PI * 2);
    context.fill();
    painted = true;
  };
  canvas.addEventListener("pointerdown", (event) => { painting = true; canvas.setPointerCapture(event.pointerId); dab(event); });
  canvas.addEventListener("pointermove", (event) => { if (painting) dab(event); });
  canvas.addEventListener("pointerup", () => { painting = false; });
  document.getElementById("mask-clear").addEventListener("click", () => { reset(); painted = false; });
  const modal = document.getElementById("modal");
  modal.addEventListener("submit", () => {
    document.getElementById("id_mask").value = painted ? canvas.toDataURL("image/png") : "";
  }, { capture: true });
}

const modalForm = document.getElementById("modal");
if (modalForm) {
  modalForm.addEventListener("submit", (event) => {
    event.preventDefault();
    send(modalForm, (data) => {
      modalForm.remove();
      added(data);
    });
  });
}

list.querySelectorAll("li.mj-task").forEach(wire);
document.documentElement.dataset.mjReady = "1";
