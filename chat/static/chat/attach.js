// Images in the composer: picked, pasted or dropped, shown as thumbnails
// until the message is sent, each removable. They travel with the message
// as the form's file field, so the server checks them with everything else
// and a refusal keeps the text and the images where they are.
const ACCEPTED = ["image/png", "image/jpeg", "image/webp", "image/gif"];

const none = { count: () => 0, clear() {} };

export function initAttachments(composer, showError) {
  const box = composer.querySelector(".attach");
  const input = box && box.querySelector('input[type="file"]');
  if (!box || !input) return none;
  const list = box.querySelector(".attachments");
  const button = box.querySelector(".attach-button");
  const offNote = box.querySelector(".attach-off");
  const modelSelect = composer.querySelector('select[name="model"]');
  let files = [];
  let urls = [];
  // The picker is opened by the button; the script decides when it is off.
  input.disabled = false;
  box.classList.add("scripted");

  const takesImages = () => !button.classList.contains("off");

  const render = () => {
    urls.forEach((url) => URL.revokeObjectURL(url));
    urls = files.map((file) => URL.createObjectURL(file));
    list.replaceChildren(
      ...files.map((file, index) => {
        const item = document.createElement("li");
        const image = document.createElement("img");
        image.src = urls[index];
        image.alt = file.name;
        const remove = document.createElement("button");
        remove.type = "button";
        remove.className = "remove-attachment";
        remove.textContent = "×";
        remove.title = `${box.dataset.remove} ${file.name}`;
        remove.setAttribute("aria-label", remove.title);
        remove.addEventListener("click", () => {
          files.splice(index, 1);
          sync();
          // The pressed button is gone: focus the next picture's, else the message box.
          const next = list.querySelectorAll(".remove-attachment")[Math.min(index, files.length - 1)];
          (next || composer.querySelector("textarea")).focus();
        });
        item.append(image, remove);
        return item;
      }),
    );
    list.hidden = files.length === 0;
  };

  const sync = () => {
    const transfer = new DataTransfer();
    files.forEach((file) => transfer.items.add(file));
    input.files = transfer.files;
    render();
  };

  const add = (incoming) => {
    const added = Array.from(incoming || []);
    if (!added.length) return;
    if (!takesImages()) {
      showError(box.dataset.off);
      return;
    }
    const refused = added.filter((file) => !ACCEPTED.includes(file.type));
    files = files.concat(added.filter((file) => ACCEPTED.includes(file.type)));
    showError(refused.map((file) => `${file.name || "?"} ${box.dataset.notImage}`).join(" "));
    sync();
  };

  input.addEventListener("change", () => {
    // The picker replaces the field's files with the ones just picked: add them to the others.
    const picked = Array.from(input.files);
    input.files = new DataTransfer().files;
    add(picked);
  });
  button.addEventListener("click", (event) => {
    if (!takesImages() && event.target === input) {
      event.preventDefault();
      showError(box.dataset.off);
    }
  });

  composer.addEventListener("paste", (event) => {
    const pasted = Array.from(event.clipboardData ? event.clipboardData.files : []);
    if (!pasted.length) return;
    // A screenshot comes with no text; a copied web page with both: the text still goes in.
    if (!event.clipboardData.getData("text/plain")) event.preventDefault();
    add(pasted);
  });

  const carriesFiles = (event) => event.dataTransfer && Array.from(event.dataTransfer.types).includes("Files");
  composer.addEventListener("dragover", (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    composer.classList.add("dropping");
  });
  composer.addEventListener("dragleave", (event) => {
    if (!composer.contains(event.relatedTarget)) composer.classList.remove("dropping");
  });
  composer.addEventListener("drop", (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    composer.classList.remove("dropping");
    add(event.dataTransfer.files);
  });

  const followModel = () => {
    const option = modelSelect.selectedOptions[0];
    const takes = Boolean(option && option.dataset.vision);
    button.classList.toggle("off", !takes);
    button.title = takes ? "" : box.dataset.off;
    offNote.hidden = takes;
  };
  if (modelSelect) {
    modelSelect.addEventListener("change", followModel);
    followModel();
  }

  // Images from the library ("use in chat") are ticked boxes: sent while ticked.
  const fromLibrary = () => box.querySelectorAll('input[name="attach"]:checked').length;

  return {
    count: () => files.length + fromLibrary(),
    clear() {
      files = [];
      sync();
      box.querySelectorAll(".attached").forEach((list) => list.remove());
    },
  };
}
