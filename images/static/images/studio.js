// The image studio: only the chosen model's own parameters are shown (and
// sent); a generation is started without leaving the page, followed over
// server-sent events with its elapsed time, and survives a reload (the page
// follows every run still going). Copy, again-with-these-settings and
// delete work on each run.
import { countSeconds, followCard } from "../site/follow.js";
import { postJSON as post } from "../site/json.js";
const form = document.getElementById("studio-form");
const runs = document.getElementById("runs");
const families = JSON.parse(document.getElementById("image-families").textContent);
const errorBox = form.querySelector(".studio-error");
const modelSelect = form.querySelector("#id_model");

const familyOf = (model) => {
  const name = (model || "").toLowerCase();
  if (name.includes("gpt-image")) return "gpt-image";
  if (name.includes("dall-e")) return "dall-e-3";
  if (name.includes("flux")) return "flux";
  return "other";
};

function showParameters() {
  const key = familyOf(modelSelect.value);
  const family = families[key];
  form.querySelectorAll(".param").forEach((label) => {
    const name = label.dataset.param;
    if (name === "n") {
      const input = label.querySelector("input");
      input.max = family.max_n;
      if (Number(input.value) > family.max_n) input.value = family.max_n;
      label.hidden = family.max_n <= 1;
      input.disabled = label.hidden;
      return;
    }
    const select = label.querySelector("select");
    const own = family.choices[name];
    label.hidden = !own;
    select.disabled = !own;
    Array.from(select.options).forEach((option) => {
      option.hidden = option.dataset.family !== key;
      option.disabled = option.hidden;
    });
    if (own && (select.selectedOptions[0] || {}).dataset?.family !== key) {
      const first = Array.from(select.options).find((option) => option.dataset.family === key);
      if (first) first.selected = true;
    }
  });
  form.querySelector("#id_prompt").maxLength = family.max_prompt;
  offerOnlyWhatGoesTogether();
}

// A value the model refuses beside another choice (gpt-image-1: a transparent
// background as JPEG) is not offered while that choice is made, either way round.
function offerOnlyWhatGoesTogether() {
  const family = families[familyOf(modelSelect.value)];
  form.querySelectorAll(".param select option").forEach((option) => {
    option.disabled = option.hidden;
  });
  (family.exclusive || []).forEach((pair) => {
    pair.forEach(([name, value], index) => {
      const [otherName, otherValue] = pair[1 - index];
      const other = form.querySelector(`select[name="${otherName}"]`);
      const option = Array.from(form.querySelector(`select[name="${name}"]`).options).find(
        (o) => o.value === value && !o.hidden,
      );
      if (option && other && other.value === otherValue) {
        option.disabled = true;
        if (option.selected) {
          const first = Array.from(option.parentElement.options).find((o) => !o.hidden && !o.disabled);
          if (first) first.selected = true;
        }
      }
    });
  });
}

function showError(message) {
  errorBox.textContent = message || "";
  errorBox.hidden = !message;
}

function follow(item) {
  let timer;
  if (followCard(item, "g", { replaced: wire, stopped: () => clearInterval(timer) })) timer = countSeconds(item);
}

function started(data) {
  runs.querySelectorAll(".empty-runs").forEach((li) => li.remove());
  runs.insertAdjacentHTML("afterbegin", data.html);
  const item = document.getElementById(`g${data.id}`);
  wire(item);
  return item;
}

function wire(item) {
  if (!item) return;
  follow(item);
  const again = item.querySelector("button.again");
  if (again) {
    again.hidden = false;
    again.addEventListener("click", () => {
      modelSelect.value = item.dataset.model;
      showParameters();
      const params = JSON.parse(item.dataset.params || "{}");
      Object.entries(params).forEach(([name, value]) => {
        const field = form.querySelector(`[name="${name}"]`);
        if (field) field.value = value;
      });
      form.querySelector("#id_n").value = item.dataset.n || 1;
      form.querySelector("#id_prompt").value = item.dataset.prompt;
      form.querySelector("#id_prompt").focus();
      window.scrollTo({ top: 0 });
    });
  }
  const copy = item.querySelector("button.copy-prompt");
  if (copy && navigator.clipboard) {
    copy.hidden = false;
    copy.addEventListener("click", async () => {
      await navigator.clipboard.writeText(item.dataset.prompt);
      copy.textContent = document.body.dataset.copied;
    });
  }
  item.querySelectorAll("form.retry-form, form.delete-form").forEach((action) => {
    action.addEventListener("submit", async (event) => {
      event.preventDefault();
      showError("");
      try {
        const data = await post(action.action, new FormData(action));
        if (data.deleted) item.remove();
        else started(data);
      } catch (err) {
        showError(err.message);
      }
    });
  });
}

let sending = false;
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (sending) return;
  sending = true;
  form.classList.add("busy");
  showError("");
  try {
    started(await post(form.action, new FormData(form)));
  } catch (err) {
    // The prompt stays where it is.
    showError(err.message);
  } finally {
    sending = false;
    form.classList.remove("busy");
  }
});

modelSelect.addEventListener("change", showParameters);
form.querySelectorAll(".param select").forEach((select) => select.addEventListener("change", offerOnlyWhatGoesTogether));
showParameters();
runs.querySelectorAll("li.run").forEach(wire);
document.documentElement.dataset.studioReady = "1";
