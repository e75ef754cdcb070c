// The photo upload of emolib.widgets.PhotoUpload (an anywidget; styles in widget.css).
//
// The browser sends each chosen photo to the kernel in pieces of `chunk_bytes` (4 MiB), one message
// per piece, so that no message comes near the websocket's limit (about 10 MiB in a Jupyter or Voila
// server): a 25 MB phone photo arrives whole. Files over `max_bytes` are not sent at all; the kernel
// names each of them with the limit. Only the first `max_files` files of a choice are sent.
//
// Messages: {type: "start", batch, total, files: [{name, size, type}], refused: [{name, size}]},
// then {type: "chunk", batch, index, offset} with the bytes as a buffer, then {type: "end", batch};
// the kernel answers {type: "received", batch} once the photos are labelled.

function megabytes(n) {
  return `${(n / 1e6).toFixed(n < 1e7 ? 1 : 0)} MB`;
}

function render({ model, el }) {
  const input = Object.assign(document.createElement("input"), { type: "file", multiple: true });
  input.className = "emo-upload-input";
  const button = document.createElement("button");
  button.className = "jupyter-widgets jupyter-button widget-button widget-upload emo-upload";
  const icon = document.createElement("i");
  icon.className = "fa fa-upload";
  const label = document.createElement("span");
  button.append(icon, label);
  const progress = document.createElement("span");
  progress.className = "emo-upload-progress";
  el.classList.add("emo-upload-box");
  el.append(input, button, progress);
  let batch = 0;

  function show() {
    input.accept = model.get("accept");
    label.textContent = ` ${model.get("description")} (${model.get("count")})`;
    button.disabled = model.get("disabled");
  }

  async function send(files) {
    const id = ++batch;
    const limit = model.get("max_bytes"), piece = Math.max(1, model.get("chunk_bytes"));
    const chosen = files.slice(0, model.get("max_files"));
    const fits = chosen.filter((f) => f.size <= limit);
    const refused = chosen.filter((f) => f.size > limit).map((f) => ({ name: f.name, size: f.size }));
    model.send({
      type: "start", batch: id, total: files.length, refused,
      files: fits.map((f) => ({ name: f.name, size: f.size, type: f.type })),
    });
    const total = fits.reduce((a, f) => a + f.size, 0);
    let sent = 0;
    for (const [index, file] of fits.entries()) {
      for (let offset = 0; offset < file.size; offset += piece) {
        let data;
        try {
          data = await file.slice(offset, offset + piece).arrayBuffer();
        } catch (err) {
          model.send({ type: "unreadable", batch: id, index, error: `${(err && err.name) || "Error"}` });
          break;
        }
        if (id !== batch) return;          // a newer choice of files replaced this one
        model.send({ type: "chunk", batch: id, index, offset }, undefined, [data]);
        sent += data.byteLength;
        progress.textContent = `sending ${fits.length} file(s), ${megabytes(total)}: ${Math.round((100 * sent) / total)}%`;
      }
    }
    model.send({ type: "end", batch: id });
    progress.textContent = fits.length ? "labelling..." : "";
  }

  button.addEventListener("click", () => input.click());
  input.addEventListener("change", () => {
    const files = Array.from(input.files || []);
    input.value = "";                      // choosing the same file again is a new upload
    if (files.length) send(files);
  });
  model.on("msg:custom", (msg) => {
    if (msg.type === "received" && msg.batch === batch) progress.textContent = "";
  });
  model.on("change:count", show);
  model.on("change:disabled", show);
  show();
}

export default { render };
