"""The live demo: upload photos or use the webcam, see each face's emotion.

The webcam is read in the *browser* (``getUserMedia`` in a small anywidget), so
the demo works with a remote kernel: the browser sends a JPEG frame, the kernel
detects and classifies the faces and sends back the annotated frame, then the
browser sends the next one (at most ``1000 / interval_ms`` frames a second).

Example
-------
>>> from emolib.widgets import EmotionDemo
>>> demo = EmotionDemo()          # doctest: +SKIP
>>> demo                          # doctest: +SKIP
"""
from __future__ import annotations

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
from .predict import CLASS_COLORS, PANEL_MAX_FACES, FaceResult, ImageError, annotate, load_image, predict_image

_ESM = r"""
// Webcam capture: getUserMedia -> canvas -> JPEG -> kernel (one frame in flight at a time).
function render({ model, el }) {
  const video = Object.assign(document.createElement("video"), { muted: true, playsInline: true, width: 160 });
  const canvas = document.createElement("canvas");
  el.append(video);
  let stream = null, timer = null, busy = false, sentAt = 0;

  async function start() {
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
    } catch (err) {
      model.set("error", `camera unavailable: ${err.name}: ${err.message}`);
      model.set("running", false);
      model.save_changes();
      return;
    }
    video.srcObject = stream;
    await video.play();
    timer = setInterval(grab, model.get("interval_ms"));
  }

  function stop() {
    clearInterval(timer);
    timer = null;
    if (stream) stream.getTracks().forEach((t) => t.stop());
    stream = null;
    video.srcObject = null;
    busy = false;
  }

  function grab() {
    if (!video.videoWidth) return;
    if (busy && performance.now() - sentAt < 5000) return;  // wait for the kernel's answer
    const w = model.get("width");
    canvas.width = w;
    canvas.height = Math.round((w * video.videoHeight) / video.videoWidth);
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    busy = true;
    sentAt = performance.now();
    canvas.toBlob(async (blob) => {
      if (!blob) { busy = false; return; }
      model.send({ type: "frame" }, undefined, [await blob.arrayBuffer()]);
    }, "image/jpeg", 0.85);
  }

  model.on("msg:custom", (msg) => { if (msg.type === "ack") busy = false; });
  model.on("change:running", () => (model.get("running") ? start() : stop()));
  if (model.get("running")) start();
  return stop;
}
export default { render };
"""


class WebcamCapture(anywidget.AnyWidget):
    """Browser-side camera: while ``running``, sends JPEG frames as custom messages.

    Python answers each frame with ``send({"type": "ack"})``; only then does the
    browser send the next one, so a slow kernel is never flooded.
    """

    _esm = _ESM
    running = T.Bool(False).tag(sync=True)
    interval_ms = T.Int(150).tag(sync=True)
    width = T.Int(480).tag(sync=True)
    error = T.Unicode("").tag(sync=True)


def _png(rgb: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return buf.tobytes()


def _jpeg(rgb: np.ndarray, quality: int = 85) -> bytes:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
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


class EmotionDemo(W.VBox):
    """Upload photos or start the webcam; every face gets a box, a label and a probability chart.

    Everything is driven from Python, so it can be tested without a browser:
    :meth:`process_upload` takes a FileUpload value, :meth:`process_frame` a
    JPEG frame as the browser would send it. ``model`` is a Keras model or an
    :class:`emolib.predict.LiteRTModel`; by default the shipped model's LiteRT copy.

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
        self.live_label = W.Label("")
        self.live = W.Image(format="jpeg", layout=W.Layout(max_width="640px"))
        for w, cls in ((self.status, "emo-status"), (self.gallery, "emo-gallery"), (self.fps, "emo-fps"),
                       (self.live_label, "emo-live-label"), (self.live, "emo-live")):
            w.add_class(cls)
        self._shown: list[tuple[str, np.ndarray, list[FaceResult]]] = []
        self._last_frame: np.ndarray | None = None
        self._last_results: list[FaceResult] = []
        self._frame_times: list[float] = []
        self.frames_processed = 0

        self.upload.observe(lambda ch: self.process_upload(ch["new"]), names="value")
        self.emoji.observe(lambda ch: self._render_gallery(), names="value")
        self.panels.observe(lambda ch: self._render_gallery(), names="value")
        self.cam_button.observe(self._toggle_camera, names="value")
        self.camera.observe(self._camera_error, names="error")
        self.camera.on_msg(self._on_camera_msg)
        self.snapshot.on_click(lambda _: self.take_snapshot())
        controls = W.HBox([self.upload, self.emoji, self.panels, self.cam_button, self.snapshot, self.fps])
        self.live_box = W.VBox([W.HBox([self.camera, self.live_label]), self.live],
                               layout=W.Layout(display="none"))   # shown while the webcam runs
        super().__init__([controls, self.status, self.live_box, self.gallery], **kwargs)

    # ------------------------------------------------------------------ uploads
    def process_upload(self, value: Iterable[dict]) -> None:
        """Predict every uploaded file (a FileUpload ``value``); bad files get a status message."""
        self._shown, errors = [], []
        for item in value or ():
            name = str(item.get("name", "upload"))
            try:
                rgb = load_image(bytes(item.get("content", b"")))
                self._shown.append((name, rgb, predict_image(rgb, self._model)))
            except ImageError as err:
                errors.append(f"{name}: {str(err).replace('uploaded data: ', '')}")
            except Exception as err:  # never let a callback die silently
                errors.append(f"{name}: {type(err).__name__}: {err}")
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

    # ------------------------------------------------------------------ webcam
    def _toggle_camera(self, change: dict) -> None:
        on = bool(change["new"])
        self.cam_button.description = "Stop webcam" if on else "Start webcam"
        self.snapshot.disabled = not on
        self._frame_times = []
        self.live_box.layout.display = "flex" if on else "none"
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

    def _on_camera_msg(self, widget: Any, content: dict, buffers: list) -> None:
        if content.get("type") != "frame":
            return
        try:
            if buffers and self.camera.running:  # a frame still in flight after "stop" is dropped
                self.process_frame(bytes(buffers[0]))
        finally:
            self.camera.send({"type": "ack"})

    def process_frame(self, jpeg: bytes) -> list[FaceResult]:
        """Predict one webcam frame (JPEG bytes), show it annotated, update the fps readout."""
        try:
            frame = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
            if frame is None:
                raise ImageError("webcam frame is not a JPEG image")
            rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            results = predict_image(rgb, self._model)
        except Exception as err:
            self.status.value = "⚠ " + html.escape(f"{type(err).__name__}: {err}")
            return []
        self._last_frame, self._last_results = rgb, results
        self.live.value = _jpeg(annotate(rgb, results, emoji=self.emoji.value))
        self.live_label.value = ", ".join(f"{r.label} {100 * r.score:.0f}%" for r in results) or "no face"
        now = time.perf_counter()
        self._frame_times = [t for t in self._frame_times if now - t < 3.0] + [now]
        self.frames_processed += 1
        if len(self._frame_times) >= 2:
            rate = (len(self._frame_times) - 1) / (self._frame_times[-1] - self._frame_times[0])
            self.fps.value = f"{rate:.1f} fps"
        else:
            self.fps.value = "1 frame"
        return results

    def take_snapshot(self) -> None:
        """Add the current webcam frame, with its predictions, to the gallery."""
        if self._last_frame is None:
            self.status.value = "no webcam frame yet"
            return
        name = time.strftime("snapshot %H:%M:%S")
        self._shown.insert(0, (name, self._last_frame, self._last_results))
        self._render_gallery()
        self.status.value = html.escape(f"{name}: {len(self._last_results)} face(s)")
