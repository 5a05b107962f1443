// Another tab (or device) sending in this conversation: the thread shows the
// new message and follows its reply, live, without a reload. While the tab
// is visible it asks every few seconds whether the path still ends where the
// page's does (a 204 when it does), and at once when the tab comes back.
import { enhance, isStarting, thread } from "./thread.js";

const CHECK_SECONDS = 2.5;

const shownLeaf = (list) => {
  const last = list.querySelector("article.msg:last-of-type");
  return last ? last.dataset.id : "";
};

export function watchConversation(url) {
  const list = thread();
  if (!list || !url || list.dataset.watched) return;
  list.dataset.watched = "1";
  let checking = false;
  let timer = null;

  const check = async () => {
    // This tab's own sends answer for themselves; and no busy loop when hidden.
    if (checking || document.hidden || isStarting()) return;
    checking = true;
    try {
      const leaf = shownLeaf(list);
      const response = await fetch(`${url}?leaf=${encodeURIComponent(leaf)}`, {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
        redirect: "manual",
      });
      // Deleted, or signed out (a redirect to the login page): nothing more to watch.
      if (response.status === 404 || response.type === "opaqueredirect") stop();
      // The page may have changed itself while we asked: only a stale answer is dropped.
      else if (response.status === 200 && shownLeaf(list) === leaf && !isStarting()) {
        const data = await response.json();
        list.innerHTML = data.thread;
        enhance(list);
      }
    } catch (err) {
      // Offline for a moment: the next check tries again.
    } finally {
      checking = false;
    }
  };

  const onVisible = () => { if (!document.hidden) check(); };
  function stop() {
    clearInterval(timer);
    document.removeEventListener("visibilitychange", onVisible);
    window.removeEventListener("focus", check);
  }
  timer = setInterval(check, CHECK_SECONDS * 1000);
  document.addEventListener("visibilitychange", onVisible);
  window.addEventListener("focus", check);
}
