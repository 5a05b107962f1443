// Site-wide behaviour, no inline scripts (the CSP forbids them): the
// language picker, the conversation drawer on small screens, the keyboard
// shortcuts and their help dialog, and the polite announcer.
document.addEventListener("change", (event) => {
  const select = event.target.closest("select.autosubmit");
  if (select) select.form.requestSubmit();
});

// A form that destroys something asks first (its data-confirm holds the
// question); declined, nothing else hears of the submit.
document.addEventListener(
  "submit",
  (event) => {
    const form = event.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  },
  true,
);

// Any script reads words to screen readers once by dispatching an "announce"
// event with them; they go to the polite live region in base.html, cleared
// first so the same words said twice are heard twice.
document.addEventListener("announce", (event) => {
  const region = document.getElementById("announcer");
  if (!region) return;
  region.textContent = "";
  setTimeout(() => { region.textContent = event.detail; }, 50);
});

// "Copy" beside a read-only field (a share link), and "Print" (a conversation as a document).
document.querySelectorAll("button[data-copy], button.print").forEach((button) => { button.hidden = false; });
document.addEventListener("click", async (event) => {
  const copy = event.target.closest("button[data-copy]");
  if (copy) {
    const field = document.getElementById(copy.dataset.copy);
    field.select();
    try {
      await navigator.clipboard.writeText(field.value);
      copy.textContent = document.body.dataset.copied;
    } catch {
      // Without clipboard access the text stays selected, for Ctrl+C.
    }
  }
  if (event.target.closest("button.print")) window.print();
});

const smallScreen = window.matchMedia("(max-width: 760px)");
const drawerToggle = document.querySelector(".drawer-toggle");
const sidebar = document.getElementById("sidebar");

function setDrawer(open, { focus = true } = {}) {
  if (!drawerToggle || !sidebar) return;
  document.body.classList.toggle("drawer-open", open);
  // While the drawer covers the page, the page behind it is out of reach (Tab stays in the drawer).
  const behind = document.getElementById("main");
  if (behind) behind.inert = open;
  drawerToggle.setAttribute("aria-expanded", String(open));
  if (open && focus) (sidebar.querySelector("li.current a") || sidebar.querySelector("a, input")).focus();
  if (!open && focus && sidebar.contains(document.activeElement)) drawerToggle.focus();
}
const drawerOpen = () => document.body.classList.contains("drawer-open");

if (drawerToggle && sidebar) {
  drawerToggle.hidden = false;
  drawerToggle.addEventListener("click", () => setDrawer(!drawerOpen()));
  // A tap beside the open drawer closes it.
  document.addEventListener("click", (event) => {
    if (drawerOpen() && !sidebar.contains(event.target) && !drawerToggle.contains(event.target)) setDrawer(false);
  });
  smallScreen.addEventListener("change", () => setDrawer(false, { focus: false }));
}

// The top bar's links fold behind "Menu" on a small screen (CSS does the folding
// while body.js-menu is set); Escape or a tap elsewhere folds them again.
const menuToggle = document.querySelector(".menu-toggle");
const topnav = document.getElementById("topnav");
function setMenu(open) {
  document.body.classList.toggle("menu-open", open);
  menuToggle.setAttribute("aria-expanded", String(open));
}
if (menuToggle && topnav) {
  document.body.classList.add("js-menu");
  menuToggle.addEventListener("click", () => {
    const open = !document.body.classList.contains("menu-open");
    setMenu(open);
    if (open) topnav.querySelector("a, button, select")?.focus();
  });
  document.addEventListener("click", (event) => {
    if (!menuToggle.contains(event.target) && !topnav.contains(event.target)) setMenu(false);
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && document.body.classList.contains("menu-open")) {
      setMenu(false);
      menuToggle.focus();
    }
  });
  smallScreen.addEventListener("change", () => setMenu(false));
}

const shortcuts = document.getElementById("shortcuts");
const shortcutsButton = document.querySelector(".shortcuts-open");
if (shortcuts && shortcutsButton) {
  shortcutsButton.hidden = false;
  shortcutsButton.addEventListener("click", () => shortcuts.showModal());
}

const typing = (target) => target.closest && target.closest("input, textarea, select, [contenteditable]");

function stopReply() {
  const stop = [...document.querySelectorAll("article.msg[data-stream] .stop-form button")].pop();
  if (!stop) return false;
  stop.click();
  return true;
}

function focusComposer() {
  const box = document.querySelector("#composer textarea");
  if (!box) return false;
  if (smallScreen.matches) setDrawer(false, { focus: false });
  box.focus();
  return true;
}

function focusSearch() {
  const box = document.querySelector("#sidebar input[type=search]");
  if (!box) return false;
  if (smallScreen.matches) setDrawer(true, { focus: false });
  box.focus();
  return true;
}

document.addEventListener("keydown", (event) => {
  if (event.defaultPrevented || event.isComposing) return;
  if (shortcuts && shortcuts.open) return; // the dialog handles its own keys (Esc closes it)
  const ctrl = event.ctrlKey || event.metaKey;
  const key = event.key.toLowerCase();
  let handled = false;
  if (ctrl && event.shiftKey && key === "o") {
    window.location.assign(document.querySelector(".brand").href);
    handled = true;
  } else if (event.shiftKey && key === "escape") {
    handled = focusComposer();
  } else if (key === "escape" && drawerOpen()) {
    setDrawer(false);
    handled = true;
  } else if (key === "escape" && !ctrl) {
    handled = stopReply();
  } else if (ctrl && !event.shiftKey && key === "k") {
    handled = focusSearch();
    if (!handled && document.body.dataset.search) {
      window.location.assign(document.body.dataset.search);
      handled = true;
    }
  } else if (ctrl && event.shiftKey && key === "s" && sidebar) {
    if (smallScreen.matches) setDrawer(!drawerOpen());
    else (sidebar.querySelector("li.current a") || sidebar.querySelector("a")).focus();
    handled = true;
  } else if (shortcuts && ((ctrl && key === "/") || (event.key === "?" && !ctrl && !typing(event.target)))) {
    shortcuts.showModal();
    handled = true;
  }
  if (handled) event.preventDefault();
});
