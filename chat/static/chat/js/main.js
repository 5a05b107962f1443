// The chat page. Every form here also works without this script (plain posts).
import { initComposer } from "./composer.js";
import { initThread } from "./thread.js";

initThread(initComposer());
// Tests (and anything else) can tell the page is fully interactive.
document.documentElement.dataset.chatReady = "1";
