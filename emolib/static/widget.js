// The webcam of emolib.widgets.WebcamCapture (an anywidget; styles in widget.css).
//
// getUserMedia -> small canvas -> raw RGBA pixels as a binary buffer -> kernel, which answers
// with boxes, labels and probabilities (JSON); the browser draws them over the live video.
// At most `in_flight` (2) frames travel at once: a new one leaves as each answer comes back.

function render({ model, el }) {
  const wrap = document.createElement("div");
  wrap.className = "emo-cam-view";          // hidden until the camera runs (.emo-on)
  const video = Object.assign(document.createElement("video"), { muted: true, playsInline: true });
  const overlay = document.createElement("canvas");
  overlay.className = "emo-overlay";
  const info = document.createElement("div");
  info.className = "emo-live-label";
  const rate = document.createElement("div");
  rate.className = "emo-cam-fps";
  wrap.append(video, overlay);
  el.append(wrap, info, rate);
  const grab = document.createElement("canvas");
  const icons = {};
  for (const [k, url] of Object.entries(model.get("emoji"))) { icons[k] = new Image(); icons[k].src = url; }
  let stream = null, timer = null, inFlight = [], frameId = 0, times = [], lastSync = 0;

  function fail(text) {
    model.set("error", text);
    model.set("running", false);
    model.save_changes();
  }

  function describe(err) {
    const name = (err && err.name) || "Error";
    if (name === "NotAllowedError" || name === "SecurityError")
      return "camera permission denied: allow the camera for this page in the browser (the icon left of the address), then press Start webcam again";
    if (name === "NotFoundError" || name === "OverconstrainedError" || name === "DevicesNotFoundError")
      return "no camera found: this computer has no webcam (or it is switched off); upload photos instead";
    if (name === "NotReadableError" || name === "AbortError")
      return "the camera is busy: another program is using it; close that program and try again";
    return `camera unavailable: ${name}: ${(err && err.message) || ""}`;
  }

  async function start() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      fail("this browser gives the page no camera: open the page as http://localhost or https:// (not a plain http address of another machine), in a recent browser");
      return;
    }
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
    } catch (err) {
      fail(describe(err));
      return;
    }
    if (!model.get("running")) { stopTracks(); return; }
    video.srcObject = stream;
    await video.play();
    wrap.classList.add("emo-on");
    times = [];
    send();
    timer = setInterval(send, 250);   // a watchdog: frames normally leave as soon as an answer is back
  }

  function stopTracks() {
    if (stream) stream.getTracks().forEach((t) => t.stop());
    stream = null;
  }

  function stop() {
    clearInterval(timer);
    timer = null;
    stopTracks();
    video.srcObject = null;
    inFlight = [];
    wrap.classList.remove("emo-on");
    overlay.getContext("2d").clearRect(0, 0, overlay.width, overlay.height);
    info.textContent = "";
    rate.textContent = "";
  }

  function send() {
    if (!stream || !video.videoWidth) return;
    const now = performance.now();
    inFlight = inFlight.filter((t) => now - t < 5000);        // an answer lost for 5 s no longer counts
    if (inFlight.length >= model.get("in_flight")) return;      // wait for the kernel's answer
    const w = model.get("width"), h = Math.round((w * video.videoHeight) / video.videoWidth);
    grab.width = w;
    grab.height = h;
    const ctx = grab.getContext("2d", { willReadFrequently: true });
    ctx.drawImage(video, 0, 0, w, h);
    const pixels = ctx.getImageData(0, 0, w, h).data;
    inFlight.push(now);
    model.send({ type: "frame", id: ++frameId, width: w, height: h }, undefined, [pixels.buffer]);
  }

  function snapshot() {
    if (!stream || !video.videoWidth) return;
    const c = document.createElement("canvas");
    c.width = video.videoWidth;
    c.height = video.videoHeight;
    c.getContext("2d").drawImage(video, 0, 0);
    c.toBlob(async (blob) => model.send({ type: "snapshot" }, undefined, [await blob.arrayBuffer()]), "image/jpeg", 0.92);
  }

  function hits(r, rects) {
    return rects.some((o) => r[0] < o[2] && o[0] < r[2] && r[1] < o[3] && o[1] < r[3]);
  }

  function place(w, h, b, rects, W, H, beside) {
    const [x, y, bw, bh] = b;
    const above = [[x, y - h - 2], [x + bw - w, y - h - 2]], below = [[x, y + bh + 2], [x + bw - w, y + bh + 2]];
    const side = [[x + bw + 6, y], [x - w - 6, y], [x + bw + 6, y + bh - h], [x - w - 6, y + bh - h]];
    for (let [cx, cy] of beside ? side.concat(below, above) : above.concat(below, side)) {
      cx = Math.min(Math.max(0, cx), W - w);
      cy = Math.min(Math.max(0, cy), H - h);
      const r = [cx, cy, cx + w, cy + h];
      if (cx >= 0 && cy >= 0 && !hits(r, rects)) return r;
    }
    return null;
  }

  function draw(msg) {
    const W = video.videoWidth, H = video.videoHeight, s = W / msg.width;
    overlay.width = W;
    overlay.height = H;
    const ctx = overlay.getContext("2d");
    ctx.clearRect(0, 0, W, H);
    const colors = model.get("colors"), names = model.get("class_names");
    const faces = msg.faces.map((f) => ({ ...f, b: f.box.map((v) => v * s) }));
    const rects = faces.map((f) => [f.b[0], f.b[1], f.b[0] + f.b[2], f.b[1] + f.b[3]]);
    const panels = faces.length <= model.get("panel_max_faces") || model.get("panels");
    for (const f of faces) {
      const [x, y, w, h] = f.b, c = `rgb(${colors[f.label].join(",")})`;
      ctx.lineWidth = 3;
      ctx.strokeStyle = c;
      ctx.strokeRect(x, y, w, h);
      const fs = Math.max(11, Math.min(24, Math.round(w / 6)));
      ctx.font = `bold ${fs}px sans-serif`;
      const text = `${f.label} ${Math.round(100 * f.score)}%`;
      const lw = fs + 4 + ctx.measureText(text).width + 10, lh = fs + 8;
      const spot = place(lw, lh, f.b, rects, W, H, false) || [x, y + h - lh, x + lw, y + h];
      rects.push(spot);
      ctx.fillStyle = c;
      ctx.fillRect(spot[0], spot[1], lw, lh);
      if (icons[f.label] && icons[f.label].complete) ctx.drawImage(icons[f.label], spot[0] + 3, spot[1] + 3, fs + 2, fs + 2);
      ctx.fillStyle = "#000";
      ctx.textBaseline = "top";
      ctx.fillText(text, spot[0] + fs + 8, spot[1] + 4);
      if (!panels) continue;
      const ps = Math.max(10, Math.min(16, Math.round(h / 12))), row = ps + 3, bar = Math.max(30, Math.min(100, w / 2));
      ctx.font = `${ps}px sans-serif`;
      const tw = ctx.measureText("surprise ").width, pw = tw + bar + 8, ph = 7 * row + 4;
      const p = place(pw, ph, f.b, rects, W, H, true);
      if (!p) continue;
      rects.push(p);
      ctx.fillStyle = "rgba(0,0,0,0.75)";
      ctx.fillRect(p[0], p[1], pw, ph);
      names.forEach((n, i) => {
        const yy = p[1] + 2 + i * row;
        ctx.fillStyle = "#fff";
        ctx.fillText(n, p[0] + 3, yy);
        ctx.fillStyle = `rgb(${colors[n].join(",")})`;
        ctx.fillRect(p[0] + 3 + tw, yy + 2, bar * (f.probabilities[n] || 0), row - 4);
      });
    }
    info.textContent = msg.faces.map((f) => `${f.label} ${Math.round(100 * f.score)}%`).join(", ") || "no face";
  }

  model.on("msg:custom", (msg) => {
    if (msg.type === "snap") { snapshot(); return; }
    if (msg.type !== "result") return;
    inFlight.shift();
    if (!stream) return;
    send();        // the next frame leaves first: the kernel works on it while this answer is drawn
    draw(msg);
    const now = performance.now();
    times = times.filter((t) => now - t[0] < 3000).concat([[now, msg.kernel_ms || 0]]);
    if (times.length >= 2) {
      const fps = (times.length - 1) / ((times[times.length - 1][0] - times[0][0]) / 1000);
      const ms = times.reduce((a, t) => a + t[1], 0) / times.length;
      rate.textContent = `${fps.toFixed(1)} fps (the kernel: ${Math.round(ms)} ms per frame)`;
      if (now - lastSync > 1000) { lastSync = now; model.set("fps", fps); model.save_changes(); }
    }
  });
  model.on("change:running", () => (model.get("running") ? start() : stop()));
  if (model.get("running")) start();
  return stop;
}
export default { render };
