// Voice on the chat pages (chat.extensions): "Read aloud" on finished
// replies, and dictation in the composer. Both only when the site offers
// the model; without JavaScript neither button is shown.
import { postJSON } from "../site/json.js";
const config = document.querySelector(".dictation");

// --- Read aloud: one player at a time; pieces made in order, the first played while the next are made.
const player = { audio: new Audio(), button: null, stopped: true };

function stopReading() {
  player.stopped = true;
  player.audio.pause();
  player.audio.removeAttribute("src");
  if (player.button) {
    player.button.setAttribute("aria-pressed", "false");
    player.button.closest("article")?.classList.remove("reading");
    player.bar?.remove();
  }
  player.button = null;
}

function showBar(article, button) {
  const bar = document.createElement("span");
  bar.className = "reader";
  bar.setAttribute("role", "status");
  const pause = document.createElement("button");
  pause.type = "button";
  pause.className = "link reader-pause";
  pause.textContent = config.dataset.pause || "Pause";
  pause.addEventListener("click", () => {
    if (player.audio.paused) { player.audio.play(); pause.textContent = config.dataset.pause || "Pause"; }
    else { player.audio.pause(); pause.textContent = config.dataset.resume || "Play"; }
  });
  const stop = document.createElement("button");
  stop.type = "button";
  stop.className = "link reader-stop";
  stop.textContent = config.dataset.stop || "Stop";
  stop.addEventListener("click", stopReading);
  const said = document.createElement("span");
  said.className = "reader-status muted";
  bar.append(said, " ", pause, " ", stop);
  button.after(bar);
  return said;
}

function playOne(url) {
  return new Promise((resolve, reject) => {
    const audio = player.audio;
    audio.onended = () => resolve();
    // Tests (and styles) can tell sound has started, not only that it was asked for.
    audio.onplaying = () => player.bar?.setAttribute("data-playing", "1");
    audio.onerror = () => reject(new Error(config.dataset.unplayable || "The audio could not be played."));
    audio.src = url;
    audio.play().catch(reject);
  });
}

async function readAloud(button) {
  if (player.button === button) return stopReading();
  stopReading();
  player.stopped = false;
  player.button = button;
  const article = button.closest("article");
  article.classList.add("reading");
  button.setAttribute("aria-pressed", "true");
  player.bar = null;
  const said = showBar(article, button);
  player.bar = said.parentElement;
  const mine = () => player.button === button && !player.stopped;
  try {
    said.textContent = config.dataset.preparing || "Preparing…";
    const reading = await postJSON(button.dataset.url);
    // Each piece's audio, made in order; the first starts playing as soon as it is there.
    const ready = [];
    let chain = Promise.resolve();
    reading.pieces.forEach((piece, index) => {
      chain = chain.then(async () => {
        if (!mine()) return "";
        return piece.url || (await postJSON(piece.make)).url;
      });
      ready[index] = chain;
    });
    for (let index = 0; index < ready.length; index += 1) {
      const url = await ready[index];
      if (!mine()) return;
      said.textContent = `${config.dataset.reading || "Reading"} ${index + 1}/${ready.length}`;
      await playOne(url);
    }
    if (mine()) stopReading();
  } catch (err) {
    if (!mine()) return;
    const kept = player.bar;
    stopReading();
    const error = document.createElement("span");
    error.className = "error reader-error";
    error.setAttribute("role", "alert");
    error.textContent = err.message;
    button.after(error);
    setTimeout(() => error.remove(), 15000);
    kept?.remove();
  }
}

function showReadButtons(root) {
  if (!config || !config.dataset.speech) return;
  root.querySelectorAll("button.read-aloud[hidden]").forEach((button) => { button.hidden = false; });
}

if (config && config.dataset.speech) {
  document.addEventListener("click", (event) => {
    const button = event.target.closest("button.read-aloud");
    if (button) readAloud(button);
  });
  showReadButtons(document);
  // Replies that arrive later (streamed, or from another tab) get theirs too.
  new MutationObserver(() => showReadButtons(document)).observe(document.getElementById("thread") || document.body, {
    childList: true,
    subtree: true,
  });
}

// --- Dictation: record what the browser can, say so, send it with a matching name and type.
const EXTENSIONS = { "audio/webm": "webm", "audio/ogg": "ogg", "audio/mp4": "m4a", "audio/wav": "wav", "audio/mpeg": "mp3" };

function initDictation() {
  if (!config || !config.dataset.model || !window.MediaRecorder || !navigator.mediaDevices?.getUserMedia) return;
  const composer = config.closest("form");
  const textarea = composer.querySelector("textarea");
  const errorBox = composer.querySelector(".composer-error");
  const mic = config.querySelector("button.mic");
  const status = config.querySelector(".recording");
  const clock = config.querySelector(".rec-time");
  const level = config.querySelector(".rec-level");
  const label = config.querySelector(".rec-label");
  const showError = (message) => { errorBox.textContent = message || ""; errorBox.hidden = !message; };
  const kept = config.querySelector(".rec-kept");
  let session = null;
  // A recording whose transcription failed (a 429, a 500): kept to send again, never lost.
  let unsent = null;
  config.hidden = false;

  function keep(blob) {
    unsent = blob;
    kept.hidden = !blob;
  }

  function finish() {
    if (!session) return;
    clearInterval(session.timer);
    cancelAnimationFrame(session.frame);
    session.stream.getTracks().forEach((track) => track.stop());
    session.context?.close();
    status.hidden = true;
    mic.hidden = false;
  }

  function insert(text) {
    const start = textarea.selectionStart ?? textarea.value.length;
    const end = textarea.selectionEnd ?? start;
    const before = textarea.value.slice(0, start);
    const spaced = (before && !/\s$/.test(before) ? " " : "") + text;
    textarea.value = before + spaced + textarea.value.slice(end);
    textarea.selectionStart = textarea.selectionEnd = start + spaced.length;
    textarea.dispatchEvent(new Event("input", { bubbles: true }));
    textarea.focus();
  }

  async function transcribe(blob) {
    const type = (blob.type || "audio/webm").split(";")[0];
    const body = new FormData();
    body.append("audio", new File([blob], `dictation.${EXTENSIONS[type] || "webm"}`, { type }));
    label.textContent = config.dataset.transcribing;
    status.hidden = false;
    keep(null);
    try {
      const data = await postJSON(config.dataset.url, body);
      if (data.text) insert(data.text);
      if (data.send && data.text) composer.requestSubmit();
    } catch (err) {
      showError(err.message);
      keep(blob);
    } finally {
      status.hidden = true;
      label.textContent = config.dataset.recording;
    }
  }

  let asking = false;
  mic.addEventListener("click", async () => {
    // One recording at a time: a second click while the browser asks, or while
    // recording, would open a second microphone stream that nothing stops.
    if (session || asking) return;
    showError("");
    let stream;
    asking = true;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (err) {
      showError(config.dataset.refused);
      return;
    } finally {
      asking = false;
    }
    const recorder = new MediaRecorder(stream);
    const chunks = [];
    session = { stream, recorder, cancelled: false, started: Date.now() };
    recorder.ondataavailable = (event) => { if (event.data.size) chunks.push(event.data); };
    recorder.onstop = () => {
      const cancelled = session.cancelled;
      finish();
      session = null;
      if (!cancelled && chunks.length) transcribe(new Blob(chunks, { type: recorder.mimeType }));
    };
    try {
      const context = new AudioContext();
      const analyser = context.createAnalyser();
      context.createMediaStreamSource(stream).connect(analyser);
      const samples = new Uint8Array(analyser.fftSize);
      session.context = context;
      const draw = () => {
        analyser.getByteTimeDomainData(samples);
        let peak = 0;
        samples.forEach((sample) => { peak = Math.max(peak, Math.abs(sample - 128) / 128); });
        level.value = peak;
        session.frame = requestAnimationFrame(draw);
      };
      draw();
    } catch (err) { /* no level meter: recording still works */ }
    session.timer = setInterval(() => {
      const seconds = Math.round((Date.now() - session.started) / 1000);
      clock.textContent = `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
    }, 250);
    clock.textContent = "0:00";
    label.textContent = config.dataset.recording;
    mic.hidden = true;
    status.hidden = false;
    recorder.start();
  });
  config.querySelector(".rec-stop").addEventListener("click", () => session?.recorder.stop());
  config.querySelector(".rec-retry").addEventListener("click", () => {
    if (unsent) {
      showError("");
      transcribe(unsent);
    }
  });
  config.querySelector(".rec-discard").addEventListener("click", () => {
    keep(null);
    showError("");
  });
  config.querySelector(".rec-cancel").addEventListener("click", () => {
    if (!session) return;
    session.cancelled = true;
    session.recorder.stop();
  });
}

initDictation();
document.documentElement.dataset.voiceReady = "1";
