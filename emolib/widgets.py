"""The live demo: upload photos or use the webcam, see each face's emotion.

The webcam is read in the *browser* (``getUserMedia`` in a small anywidget), so
the demo works with a remote kernel: the browser scales each frame to 320
pixels wide and sends its raw pixels as a binary buffer; the kernel detects and
classifies the faces and answers with boxes, labels and probabilities only; the
browser draws them over the live video. Two frames are in flight: while the
kernel works on one, the next is already on its way, so the kernel never waits
for the network and never has more than one frame queued (it cannot fall
behind the camera).

Example
-------
>>> from emolib.widgets import EmotionDemo
>>> demo = EmotionDemo()          # doctest: +SKIP
>>> demo                          # doctest: +SKIP
"""
from __future__ import annotations

import base64
import html
import io
import time
from typing import Any, Iterable

import anywidget
import cv2
import ipywidgets as W
import numpy as np
import traitlets as T

from .data import CLASS_NAMES
from .faces import detect
from .predict import (CLASS_COLORS, PANEL_MAX_FACES, FaceResult, ImageError, annotate, classify_detections, emoji_image,
                      load_image, predict_image)

_ESM = r"""
// Webcam: getUserMedia -> small canvas -> raw RGBA pixels as a binary buffer -> kernel,
// which answers with boxes, labels and probabilities (JSON); the browser draws them over
// the live video. At most `in_flight` (2) frames travel at once: a new one leaves as each answer comes back.
function render({ model, el }) {
  const wrap = document.createElement("div");
  wrap.style.cssText = "position:relative;display:none;width:100%;max-width:640px";
  const video = Object.assign(document.createElement("video"), { muted: true, playsInline: true });
  video.style.cssText = "width:100%;display:block;background:#222";
  const overlay = document.createElement("canvas");
  overlay.className = "emo-overlay";
  overlay.style.cssText = "position:absolute;left:0;top:0;width:100%;height:100%;pointer-events:none";
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
    wrap.style.display = "block";
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
    wrap.style.display = "none";
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
"""


def _emoji_urls(size: int = 64) -> dict[str, str]:
    """The shipped emoji as small PNG data URLs (sent to the browser once)."""
    from PIL import Image

    out = {}
    for c in CLASS_NAMES:
        buf = io.BytesIO()
        emoji_image(c).resize((size, size), Image.LANCZOS).save(buf, "PNG")
        out[c] = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
    return out


class WebcamCapture(anywidget.AnyWidget):
    """Browser-side camera and overlay: while ``running``, sends raw RGBA frames
    (``width`` pixels wide, binary buffers) as custom messages.

    Python answers each frame with ``send({"type": "result", "faces": [...], "kernel_ms": ...})``
    (boxes in the frame's pixels, labels, probabilities, the kernel's time for the
    frame); the browser draws them over the live video. At most ``in_flight``
    frames are unanswered at a time (a new one leaves as each answer arrives),
    so a slow kernel is never flooded. ``send({"type": "snap"})`` asks for a full-size JPEG of the
    current frame (answered with a ``"snapshot"`` message). ``fps`` is the rate
    the browser measured (updated about once a second); ``error`` says why the
    camera could not start.
    """

    _esm = _ESM
    running = T.Bool(False).tag(sync=True)
    width = T.Int(320).tag(sync=True)
    in_flight = T.Int(2).tag(sync=True)
    error = T.Unicode("").tag(sync=True)
    fps = T.Float(0.0).tag(sync=True)
    panels = T.Bool(False).tag(sync=True)
    panel_max_faces = T.Int(PANEL_MAX_FACES).tag(sync=True)
    emoji = T.Dict().tag(sync=True)
    colors = T.Dict().tag(sync=True)
    class_names = T.List().tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(emoji=_emoji_urls(), colors={k: list(v) for k, v in CLASS_COLORS.items()},
                         class_names=list(CLASS_NAMES), **kwargs)


def _png(rgb: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return buf.tobytes()


def probability_chart(result: FaceResult, title: str = "") -> bytes:
    """A small horizontal bar chart of one face's class probabilities, as PNG bytes.

    >>> r = FaceResult((0, 0, 1, 1), "happy", 0.6, dict(zip(CLASS_NAMES, [.1, 0, 0, .6, .1, .1, .1])))
    >>> probability_chart(r)[:4]
    b'\\x89PNG'
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2.8, 2.0), dpi=80)
    ax = fig.subplots()
    probs = [result.probabilities.get(c, 0.0) for c in CLASS_NAMES]
    ax.barh(list(CLASS_NAMES), probs, color=[np.array(CLASS_COLORS[c]) / 255 for c in CLASS_NAMES])
    ax.set_xlim(0, 1)
    ax.invert_yaxis()
    ax.tick_params(labelsize=8)
    ax.set_title(title or f"{result.label} {100 * result.score:.0f}%", fontsize=9)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


#: At most this many photos of one upload are predicted and shown.
MAX_UPLOADS = 20
#: A webcam face is classified again every this many frames (see ``EmotionDemo._track``).
RECLASSIFY = 3


def _iou(a: tuple, b: tuple) -> float:
    iw = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    ih = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = iw * ih
    return inter / (a[2] * a[3] + b[2] * b[3] - inter) if inter else 0.0


class EmotionDemo(W.VBox):
    """Upload photos or start the webcam; every face gets a box, a label and (few faces) a probability chart.

    Everything is driven from Python, so it can be tested without a browser:
    :meth:`process_upload` takes a FileUpload value, :meth:`process_frame` a
    webcam frame as the browser sends it (raw RGBA pixels, or JPEG bytes).
    ``model`` is a Keras model or an :class:`emolib.predict.LiteRTModel`; by
    default the shipped model's LiteRT copy. Nothing is written to disk.

    >>> demo = EmotionDemo()                                   # doctest: +SKIP
    >>> demo.process_upload([{"name": "x.jpg", "content": b""}])  # doctest: +SKIP
    >>> demo.status.value                                      # doctest: +SKIP
    '... x.jpg: empty file (0 bytes)'
    """

    def __init__(self, model=None, **kwargs: Any) -> None:
        self._model = model
        self.upload = W.FileUpload(accept="image/*", multiple=True, description="Photos")
        self.emoji = W.ToggleButton(value=False, description="emoji", icon="smile-o",
                                    tooltip="paste an emoji over each face")
        self.panels = W.ToggleButton(value=False, description="all charts", icon="bar-chart",
                                     tooltip=f"a probability chart for every face (shown by default for "
                                             f"up to {PANEL_MAX_FACES} faces)")
        self.status = W.HTML("Upload one or more photos, or start the webcam.")
        self.gallery = W.VBox()
        self.camera = WebcamCapture()
        self.cam_button = W.ToggleButton(value=False, description="Start webcam", icon="video-camera")
        self.snapshot = W.Button(description="Snapshot", icon="camera", disabled=True)
        self.fps = W.Label("")
        for w, cls in ((self.status, "emo-status"), (self.gallery, "emo-gallery"), (self.fps, "emo-fps"),
                       (self.camera, "emo-camera")):
            w.add_class(cls)
        self._shown: list[tuple[str, np.ndarray, list[FaceResult]]] = []
        self._last_frame: np.ndarray | None = None
        self._last_results: list[FaceResult] = []
        self._frame_times: list[float] = []
        self._tracked: list[tuple[FaceResult, int]] = []
        self._fps_shown_at = 0.0
        self.frames_processed = 0

        self.upload.observe(lambda ch: self.process_upload(ch["new"]), names="value")
        self.emoji.observe(lambda ch: self._render_gallery(), names="value")
        self.panels.observe(self._toggle_panels, names="value")
        self.cam_button.observe(self._toggle_camera, names="value")
        self.camera.observe(self._camera_error, names="error")
        self.camera.observe(self._browser_fps, names="fps")
        self.camera.on_msg(self._on_camera_msg)
        self.snapshot.on_click(lambda _: self.take_snapshot())
        controls = W.HBox([self.upload, self.emoji, self.panels, self.cam_button, self.snapshot, self.fps])
        super().__init__([controls, self.status, self.camera, self.gallery], **kwargs)

    # ------------------------------------------------------------------ uploads
    def process_upload(self, value: Iterable[dict]) -> None:
        """Predict every uploaded file (a FileUpload ``value``); bad files get a status message."""
        self._shown, errors = [], []
        items = list(value or ())
        for item in items[:MAX_UPLOADS]:
            name = str(item.get("name", "upload"))
            try:
                rgb = load_image(bytes(item.get("content", b"")))
                self._shown.append((name, rgb, predict_image(rgb, self._model)))
            except ImageError as err:
                errors.append(f"{name}: {str(err).replace('uploaded data: ', '')}")
            except Exception as err:  # never let a callback die silently
                errors.append(f"{name}: {type(err).__name__}: {err}")
        if len(items) > MAX_UPLOADS:
            errors.append(f"{len(items)} files at once: only the first {MAX_UPLOADS} are shown; "
                          f"upload the others in smaller groups")
        found = sum(len(r) for _, _, r in self._shown)
        msg = f"{len(self._shown)} image(s), {found} face(s) found" if self._shown else ""
        if self._shown and not found:
            msg += " (no face: try a brighter, frontal photo)"
        if errors:
            msg = "; ".join(filter(None, [msg, "⚠ " + "; ".join(errors)]))
        self._render_gallery()
        self.status.value = html.escape(msg or "nothing uploaded")

    def _render_gallery(self) -> None:
        rows = []
        for name, rgb, results in self._shown:
            img = W.Image(value=_png(annotate(rgb, results, emoji=self.emoji.value, bars=False)), format="png",
                          layout=W.Layout(max_width="480px"))
            few = len(results) <= PANEL_MAX_FACES or self.panels.value
            charts = [W.Image(value=probability_chart(r, f"face {i + 1}: {r.label} {100 * r.score:.0f}%"),
                              format="png") for i, r in enumerate(results)] if few else [
                W.HTML(f"{len(results)} faces: press <i>all charts</i> for each face's probabilities")]
            caption = W.HTML(f"<b>{html.escape(name)}</b>: " + (", ".join(
                f"{r.label} {100 * r.score:.0f}%" for r in results) or "no face found"))
            caption.add_class("emo-caption")
            rows.append(W.VBox([caption, W.HBox([img, W.VBox(charts)])]))
        self.gallery.children = rows

    def _toggle_panels(self, change: dict) -> None:
        self.camera.panels = bool(change["new"])
        self._render_gallery()

    # ------------------------------------------------------------------ webcam
    def _toggle_camera(self, change: dict) -> None:
        on = bool(change["new"])
        self.cam_button.description = "Stop webcam" if on else "Start webcam"
        self.snapshot.disabled = not on
        self._frame_times, self._tracked = [], []
        if on:
            self.camera.error = ""
            self.fps.value = "waiting for the camera..."
        else:
            self.fps.value = ""
        self.camera.running = on

    def _camera_error(self, change: dict) -> None:
        if change["new"]:
            self.status.value = "⚠ " + html.escape(change["new"])
            self.cam_button.value = False

    def _browser_fps(self, change: dict) -> None:
        if self.camera.running and change["new"] > 0:
            self.fps.value = f"{change['new']:.1f} fps"

    def _on_camera_msg(self, widget: Any, content: dict, buffers: list) -> None:
        kind = content.get("type")
        if kind == "snapshot":
            if buffers:
                self._add_snapshot(bytes(buffers[0]))
            return
        if kind != "frame":
            return
        faces: list[dict] = []
        t0 = time.perf_counter()
        try:
            if buffers and self.camera.running:  # a frame still in flight after "stop" is dropped
                results = self.process_frame(bytes(buffers[0]), content.get("width"), content.get("height"))
                faces = [r.to_dict() for r in results]
        finally:
            w, h = content.get("width"), content.get("height")
            self.camera.send({"type": "result", "id": content.get("id"), "width": w, "height": h, "faces": faces,
                              "kernel_ms": round(1000 * (time.perf_counter() - t0), 1)})

    def process_frame(self, data: bytes, width: int | None = None, height: int | None = None) -> list[FaceResult]:
        """Predict one webcam frame: raw RGBA pixels (``width`` x ``height``, as the browser
        sends them) or JPEG bytes. Keeps it for a snapshot and updates the frame counter."""
        try:
            if width and height:
                if len(data) != width * height * 4:
                    raise ImageError(f"webcam frame of {len(data)} bytes, expected {width}x{height}x4")
                rgb = np.frombuffer(data, np.uint8).reshape(height, width, 4)[:, :, :3].copy()
            else:
                frame = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
                if frame is None:
                    raise ImageError("webcam frame is not a JPEG image")
                rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            results = self._track(rgb)
        except Exception as err:
            self.status.value = "⚠ " + html.escape(f"{type(err).__name__}: {err}")
            return []
        self._last_frame, self._last_results = rgb, results
        now = time.perf_counter()
        self._frame_times = [t for t in self._frame_times if now - t < 3.0] + [now]
        self.frames_processed += 1
        if now - self._fps_shown_at > 1.0 and len(self._frame_times) >= 2 and not self.camera.fps:
            self._fps_shown_at = now      # until the browser reports its own rate
            rate = (len(self._frame_times) - 1) / (self._frame_times[-1] - self._frame_times[0])
            self.fps.value = f"{rate:.1f} fps"
        return results

    def _track(self, rgb: np.ndarray) -> list[FaceResult]:
        """Faces of a webcam frame: found in every frame, classified every RECLASSIFY-th frame.

        A face that overlaps (IoU >= 0.3) one classified at most RECLASSIFY - 1 frames
        ago keeps its probabilities with its new box; new faces and the others go through
        the classifier together, in one call. (The classifier is most of a frame's time;
        an expression lasts longer than the 2 frames a label can lag.)"""
        dets = detect(rgb)
        prev, out, todo = self._tracked, [], []
        for d in dets:
            match = max(prev, key=lambda p: _iou(p[0].box, d.box), default=None)
            if match is not None and match[1] < RECLASSIFY - 1 and _iou(match[0].box, d.box) >= 0.3:
                r = match[0]
                out.append((FaceResult(d.box, r.label, r.score, r.probabilities, d.score, r.face), match[1] + 1))
                prev = [p for p in prev if p is not match]
            else:
                todo.append(len(out))
                out.append((None, 0))
        for i, r in zip(todo, classify_detections(rgb, [dets[i] for i in todo], self._model)):
            out[i] = (r, 0)
        self._tracked = out
        return [r for r, _ in out]

    def take_snapshot(self) -> None:
        """Ask the browser for the current frame at full size (a ``"snapshot"`` message
        answers); the kernel annotates it and adds it to the gallery."""
        if self._last_frame is None:
            self.status.value = "no webcam frame yet"
            return
        self.camera.send({"type": "snap"})
        self.status.value = "snapshot requested..."

    def _add_snapshot(self, jpeg: bytes) -> None:
        name = time.strftime("snapshot %H:%M:%S")
        try:
            rgb = load_image(jpeg)
            results = predict_image(rgb, self._model)
        except Exception as err:
            self.status.value = "⚠ " + html.escape(f"{name}: {type(err).__name__}: {err}")
            return
        self._shown.insert(0, (name, rgb, results))
        self._render_gallery()
        self.status.value = html.escape(f"{name}: {len(results)} face(s)")
