// The chat page. Every form here also works without this script (plain posts).
import { initComposer } from "./composer.js";
import { initThread, thread } from "./thread.js";
import { watchConversation } from "./watch.js";

initThread(initComposer());
const list = thread();
if (list && list.dataset.changes) watchConversation(list.dataset.changes);
// Tests (and anything else) can tell the page is fully interactive.
document.documentElement.dataset.chatReady = "1";
