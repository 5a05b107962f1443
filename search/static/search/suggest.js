// The sidebar's search as you type: after a pause in typing, the first few
// results by words (no paid call a keystroke) drop down under the box; Enter
// still opens the whole results page. Arrow Down walks into the list, Escape
// closes it. An answer that comes back after a newer one is dropped.
const DEBOUNCE_MS = 250;
const MIN_CHARS = 2;

const form = document.querySelector("#sidebar form.search");
const input = form?.querySelector("input[name=q]");

if (form && input) {
  const list = document.createElement("ul");
  list.className = "search-suggestions";
  list.id = "search-suggestions";
  list.hidden = true;
  list.setAttribute("aria-label", form.dataset.suggestionsLabel || "Suggestions");
  const status = document.createElement("p");
  status.className = "visually-hidden";
  status.setAttribute("role", "status");
  form.append(list, status);
  input.setAttribute("aria-controls", list.id);
  input.setAttribute("autocomplete", "off");

  let timer = 0;
  let asked = 0;
  let controller = null;

  const close = () => {
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
  };

  const show = (data) => {
    list.replaceChildren();
    for (const result of data.results) {
      const item = document.createElement("li");
      const link = document.createElement("a");
      link.href = result.url;
      const title = document.createElement("strong");
      title.textContent = result.title;
      const snippet = document.createElement("span");
      snippet.className = "small muted";
      // Built by the server from escaped text, with <mark> around the matches.
      snippet.innerHTML = result.snippet;
      link.append(title, snippet);
      item.append(link);
      list.append(item);
    }
    const all = document.createElement("li");
    all.className = "search-suggestions-all";
    const link = document.createElement("a");
    link.href = data.page;
    link.textContent = data.results.length ? form.dataset.allLabel : form.dataset.noneLabel;
    all.append(link);
    list.append(all);
    list.hidden = false;
    input.setAttribute("aria-expanded", "true");
    status.textContent = data.results.length
      ? form.dataset.countLabel.replace("{count}", data.results.length)
      : form.dataset.noneLabel;
  };

  const ask = async () => {
    const query = input.value.trim();
    if (query.length < MIN_CHARS) {
      close();
      return;
    }
    controller?.abort();
    controller = new AbortController();
    const mine = ++asked;
    try {
      const response = await fetch(`${form.dataset.suggestUrl}?q=${encodeURIComponent(query)}`, {
        headers: { Accept: "application/json" },
        signal: controller.signal,
      });
      if (!response.ok || mine !== asked) return;
      show(await response.json());
    } catch {
      // Aborted by a newer keystroke, or offline for a moment: the page search still works.
    }
  };

  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(ask, DEBOUNCE_MS);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" && !list.hidden) {
      event.preventDefault();
      list.querySelector("a")?.focus();
    } else if (event.key === "Escape") {
      close();
    }
  });
  list.addEventListener("keydown", (event) => {
    const links = [...list.querySelectorAll("a")];
    const at = links.indexOf(document.activeElement);
    if (event.key === "ArrowDown" && at < links.length - 1) {
      event.preventDefault();
      links[at + 1].focus();
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      (at > 0 ? links[at - 1] : input).focus();
    } else if (event.key === "Escape") {
      close();
      input.focus();
    }
  });
  document.addEventListener("click", (event) => {
    if (!form.contains(event.target)) close();
  });
  form.dataset.suggestReady = "1";
}
