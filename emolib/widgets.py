"""The live demo: upload photos or use the webcam, see each face's emotion.

The webcam is read in the *browser* (``getUserMedia`` in a small anywidget whose
JavaScript and CSS are ``emolib/static/widget.js`` and ``widget.css``), so
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
from pathlib import Path
from typing import Any, Iterable

import anywidget
import cv2
import ipywidgets as W
import numpy as np
import traitlets as T

from .data import CLASS_NAMES
from .draw import CLASS_COLORS, PANEL_MAX_FACES, annotate, emoji_image
from .images import GROUP_SAMPLE, MAX_FILE_BYTES, ImageError, load_image
from .predict import FaceResult, FaceTracker, predict_image

#: The browser side of the widgets (anywidget ES modules and their styles, loaded by path:
#: editors and eslint read them as JavaScript; ``ANYWIDGET_HMR=1`` reloads them on save).
STATIC_DIR = Path(__file__).resolve().parent / "static"


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

    _esm = STATIC_DIR / "widget.js"
    _css = STATIC_DIR / "widget.css"
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


def _jpeg(rgb: np.ndarray, quality: int = 90) -> bytes:
    """An annotated photo for the browser: a JPEG, several times smaller than a PNG of a photo."""
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


#: At most this many photos of one upload are predicted and shown.
MAX_UPLOADS = 20
#: Uploads travel to the kernel in pieces of at most this many bytes, one message each: well under
#: the roughly 10 MiB a Jupyter or Voila server's websocket takes in one message.
CHUNK_BYTES = 4 * 2**20


class PhotoUpload(anywidget.AnyWidget):
    """A *Photos* button: the browser sends the chosen files to the kernel in pieces of ``chunk_bytes``
    (``emolib/static/upload.js``), so a photo of any size up to ``max_bytes`` arrives whole,
    whatever the server's websocket message limit.

    Files over ``max_bytes`` are not sent; only the first ``max_files`` of a choice are. Callbacks
    given to :meth:`on_upload` receive the files as ``[{"name", "type", "size", "content"}, ...]``
    (an ``"error"`` instead of ``"content"`` for a file refused or arrived incomplete) and the
    number of files chosen. ``count`` (shown on the button) is the number of files last received.
    """

    _esm = STATIC_DIR / "upload.js"
    _css = STATIC_DIR / "widget.css"
    description = T.Unicode("Photos").tag(sync=True)
    accept = T.Unicode("image/*,.heic,.heif").tag(sync=True)
    disabled = T.Bool(False).tag(sync=True)
    max_files = T.Int(MAX_UPLOADS).tag(sync=True)
    max_bytes = T.Int(MAX_FILE_BYTES).tag(sync=True)
    chunk_bytes = T.Int(CHUNK_BYTES).tag(sync=True)
    count = T.Int(0).tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._batch: dict | None = None
        self._callbacks: list = []
        self.on_msg(self._on_msg)

    def on_upload(self, callback) -> None:
        """Call ``callback(files, total)`` when the browser has sent a choice of files."""
        self._callbacks.append(callback)

    def _on_msg(self, widget: Any, content: dict, buffers: list) -> None:
        kind, batch = content.get("type"), content.get("batch")
        if kind == "start":
            limit = f"the limit is {self.max_bytes / 1e6:.0f} MB"
            files = [dict(name=str(f.get("name", "upload")), type=str(f.get("type", "")), size=int(f.get("size", 0)),
                          data=bytearray()) for f in content.get("files", ())]
            refused = [dict(name=str(f.get("name", "upload")), size=int(f.get("size", 0)),
                            error=f"file too large: {int(f.get('size', 0)) / 1e6:.0f} MB; {limit}")
                       for f in content.get("refused", ())]
            self._batch = dict(id=batch, files=files, refused=refused, total=int(content.get("total", len(files))))
            return
        current = self._batch
        if current is None or batch != current["id"]:
            return                      # pieces of a choice the browser has replaced since
        if kind in ("chunk", "unreadable"):
            index = content.get("index")
            if not isinstance(index, int) or not 0 <= index < len(current["files"]):
                return
            f = current["files"][index]
            if kind == "unreadable":
                f["error"] = f"the browser could not read the file ({content.get('error', 'Error')})"
            elif "error" not in f and buffers and content.get("offset") == len(f["data"]):
                f["data"] += bytes(buffers[0])
                if len(f["data"]) > self.max_bytes:
                    f["error"] = f"file too large: more than {self.max_bytes / 1e6:.0f} MB"
            elif "error" not in f:
                f["error"] = "a piece of the file arrived out of order; upload it again"
        elif kind == "end":
            self._batch = None
            items = []
            for f in current["files"]:
                data = f.pop("data")
                if "error" not in f and len(data) != f["size"]:
                    f["error"] = f"arrived incomplete ({len(data)} of {f['size']} bytes); upload it again"
                items.append(f if "error" in f else dict(f, content=bytes(data)))
            items += current["refused"]
            try:
                for callback in self._callbacks:
                    callback(items, current["total"])
            finally:
                self.count = len(items)
                self.send({"type": "received", "batch": batch})
class EmotionDemo(W.VBox):
    """Upload photos or start the webcam; every face gets a box, a label and (few faces) a probability chart.

    Everything is driven from Python, so it can be tested without a browser:
    :meth:`process_upload` takes the uploaded files, :meth:`process_frame` a
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
        self.upload = PhotoUpload()
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
        self._tracker = FaceTracker(model)   # webcam faces: found every frame, classified every RECLASSIFY-th
        self._fps_shown_at = 0.0
        self.frames_processed = 0

        self.upload.on_upload(self.process_upload)
        self.emoji.observe(lambda ch: self._render_gallery(), names="value")
        self.panels.observe(self._toggle_panels, names="value")
        self.cam_button.observe(self._toggle_camera, names="value")
        self.camera.observe(self._camera_error, names="error")
        self.camera.observe(self._browser_fps, names="fps")
        self.camera.on_msg(self._on_camera_msg)
        self.snapshot.on_click(lambda _: self.take_snapshot())
        controls = W.HBox([self.upload, self.emoji, self.panels, self.cam_button, self.snapshot, self.fps])
        super().__init__([controls, self.status, self.camera, self.gallery], **kwargs)

    def preload(self) -> EmotionDemo:
        """Load the face detector and the model, and run them once on the shipped group photo, so that
        the first upload is answered at full speed; nothing is shown. Returns the demo itself.
        (``python -m emolib app`` does this in each kernel before a visitor arrives.)

        >>> EmotionDemo().preload().status.value
        'Upload one or more photos, or start the webcam.'
        """
        rgb = load_image(GROUP_SAMPLE)
        _jpeg(annotate(rgb, predict_image(rgb, self._model), bars=False))
        return self

    # ------------------------------------------------------------------ uploads
    def process_upload(self, value: Iterable[dict], total: int | None = None) -> None:
        """Predict every uploaded file (``[{"name": ..., "content": bytes}, ...]``, as :class:`PhotoUpload`
        gives them, or a FileUpload ``value``); bad files get a status message. ``total``: the number of
        files chosen, if more were chosen than sent."""
        self._shown, errors = [], []
        items = list(value or ())
        total = max(len(items), total or 0)
        for item in items[:MAX_UPLOADS]:
            name = str(item.get("name", "upload"))
            if item.get("error"):
                errors.append(f"{name}: {item['error']}")
                continue
            try:
                rgb = load_image(bytes(item.get("content", b"")))
                self._shown.append((name, rgb, predict_image(rgb, self._model)))
            except ImageError as err:
                errors.append(f"{name}: {str(err).replace('uploaded data: ', '')}")
            except Exception as err:  # never let a callback die silently
                errors.append(f"{name}: {type(err).__name__}: {err}")
        if total > MAX_UPLOADS:
            errors.append(f"{total} files at once: only the first {MAX_UPLOADS} are shown; "
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
            # as large as the page allows (up to the working copy's own size), so that the labels of a
            # 40-face class photo can be read; the charts beside it, or below when it takes the width
            img = W.Image(value=_jpeg(annotate(rgb, results, emoji=self.emoji.value, bars=False)), format="jpeg",
                          layout=W.Layout(width="auto", height="auto", max_width="100%"))
            img.add_class("emo-photo")
            few = len(results) <= PANEL_MAX_FACES or self.panels.value
            charts = [W.Image(value=probability_chart(r, f"face {i + 1}: {r.label} {100 * r.score:.0f}%"),
                              format="png") for i, r in enumerate(results)] if few else [
                W.HTML(f"{len(results)} faces: press <i>all charts</i> for each face's probabilities")]
            caption = W.HTML(f"<b>{html.escape(name)}</b>: " + (", ".join(
                f"{r.label} {100 * r.score:.0f}%" for r in results) or "no face found"))
            caption.add_class("emo-caption")
            rows.append(W.VBox([caption, W.Box([img, W.VBox(charts)], layout=W.Layout(
                flex_flow="row wrap", align_items="flex-start"))]))
        self.gallery.children = rows

    def _toggle_panels(self, change: dict) -> None:
        self.camera.panels = bool(change["new"])
        self._render_gallery()

    # ------------------------------------------------------------------ webcam
    def _toggle_camera(self, change: dict) -> None:
        on = bool(change["new"])
        self.cam_button.description = "Stop webcam" if on else "Start webcam"
        self.snapshot.disabled = not on
        self._frame_times = []
        self._tracker.reset()
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
            results = self._tracker.update(rgb)
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
