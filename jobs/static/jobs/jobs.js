// The job centre, on every page: the top bar's "Jobs" link shows how many
// jobs are running, and (once the person turned it on) a browser
// notification says when one finishes while they are on another page or tab.
// On the job centre itself the list is redrawn as jobs move. One stream
// (server-sent events) per page. The job centre, and a page that notifies,
// keep it open while nothing runs (a job started in another tab shows at
// once, a fast one is seen ending); other pages let it close, and ask again
// after a while.
const link = document.querySelector("a[data-jobs-link]");
const listBox = document.getElementById("jobs");
const KEY = "aitre-job-notifications";
const IDLE_RECHECK_MS = 30000;
let known = null;

const wanted = () => localStorage.getItem(KEY) === "on" && "Notification" in window && Notification.permission === "granted";

function badge(running) {
  if (!link) return;
  let count = link.querySelector(".jobs-count");
  if (!count) {
    count = document.createElement("span");
    count.className = "jobs-count badge";
    link.append(" ", count);
  }
  count.textContent = running ? String(running) : "";
  count.hidden = !running;
}

function notifyEnded(jobs) {
  const now = new Map(jobs.map((job) => [job.key, job]));
  if (known && wanted()) {
    for (const [key, before] of known) {
      const after = now.get(key);
      if (before.running && after && !after.running) {
        // Not when it is in sight: on its own page, or on the job centre, in a visible tab.
        const here = document.location.pathname === new URL(after.url, document.location.href).pathname;
        if (document.hidden || !(here || listBox)) {
          const note = new Notification(`${after.kind}: ${after.status}`, { body: after.title, tag: key });
          note.onclick = () => { window.focus(); window.location.href = after.url; };
        }
      }
    }
  }
  known = now;
}

function listen() {
  const stay = Boolean(listBox) || wanted();
  const source = new EventSource(link.dataset.events + (stay ? "?stay=1" : ""));
  source.addEventListener("jobs", (event) => {
    const data = JSON.parse(event.data);
    badge(data.running);
    notifyEnded(data.jobs);
    if (listBox) listBox.innerHTML = data.html;
  });
  source.addEventListener("idle", () => {
    source.close();
    setTimeout(listen, IDLE_RECHECK_MS);
  });
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) setTimeout(listen, IDLE_RECHECK_MS);
  };
}

function setUpToggle() {
  const box = document.querySelector(".jobs-notify");
  const toggle = document.getElementById("notify-toggle");
  const state = document.getElementById("notify-state");
  if (!box || !("Notification" in window)) return;
  box.hidden = false;
  const show = () => {
    toggle.textContent = wanted() ? toggle.dataset.on : toggle.dataset.off;
    toggle.setAttribute("aria-pressed", String(wanted()));
    state.textContent = Notification.permission === "denied" ? state.dataset.denied : "";
  };
  toggle.addEventListener("click", async () => {
    if (wanted()) localStorage.setItem(KEY, "off");
    else if ((await Notification.requestPermission()) === "granted") localStorage.setItem(KEY, "on");
    show();
  });
  show();
}

if (link) {
  setUpToggle();
  // Every page follows when notifications are on; the job centre always does.
  if (listBox || wanted()) listen();
}
