"""From a photo to emotions: find faces, classify them all at once, follow them through a video.

Reading photos is :mod:`emolib.images` and drawing the results :mod:`emolib.draw`;
their names are re-exported here, so ``from emolib.predict import load_image, annotate``
works as well.

Example
-------
>>> from emolib.predict import load_image, predict_image, annotate, sample_paths
>>> rgb = load_image(sample_paths()[0])           # path, bytes, PIL image or array
>>> results = predict_image(rgb)                  # doctest: +SKIP
>>> [r.label for r in results]                    # doctest: +SKIP
['neutral']
>>> annotate(rgb, results, emoji=True).shape      # doctest: +SKIP
(600, 512, 3)
"""
from __future__ import annotations

import contextlib
import os
import threading
import time
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .data import CLASS_NAMES, IMAGE_SIZE
from .draw import CLASS_COLORS, EMOJI_DIR, PANEL_MAX_FACES, Rect, annotate, emoji_image, place_label  # noqa: F401
from .faces import MIN_FACE, Box, box_iou, crop_face, detect
from .images import (  # noqa: F401  (re-exported: emolib.predict.load_image and the rest keep working)
    DRAFT_MIN_FRACTION, GROUP_SAMPLE, MAX_FILE_BYTES, MAX_PIXELS, MAX_SIDE, SAMPLES_DIR, ImageError, ImageSource,
    Photo, _downscale, _is_rgb, load_image, load_photo, sample_paths, scale_results,
)
from .video import VideoError, VideoReader, VideoWriter  # noqa: F401
from .views import VIEW_BUDGET_MS, VIEWS, make_views, view_choices  # noqa: F401  (re-exported)

ASSETS_DIR = Path(__file__).resolve().parent / "assets"


# ----------------------------------------------------------------------------- predicting
@dataclass
class FaceResult:
    """One face: where it is, what the model thinks, and the 48x48 crop it saw.

    ``box`` is (x, y, w, h) in the pixels of the input image (see
    :func:`predict_image`); ``probabilities`` maps each class name to its
    probability; ``label`` is the most probable class and ``score`` its
    probability; ``detection_score`` is the face detector's confidence;
    ``face_id`` the number a :class:`FaceTracker` gave the face (None in a photo).
    """

    box: tuple[int, int, int, int]
    label: str
    score: float
    probabilities: dict[str, float]
    detection_score: float = 1.0
    face: np.ndarray | None = field(default=None, repr=False)
    face_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (no crop); ``"id"`` only for a tracked face.

        >>> r = FaceResult((1, 2, 3, 4), "happy", 0.9, {"happy": 0.9})
        >>> r.to_dict()["box"]
        [1, 2, 3, 4]
        """
        d = {"box": [int(v) for v in self.box], "label": self.label, "score": round(float(self.score), 4),
             "probabilities": {k: round(float(v), 4) for k, v in self.probabilities.items()},
             "detection_score": round(float(self.detection_score), 4)}
        if self.face_id is not None:
            d["id"] = int(self.face_id)
        return d



LITERT_PATH = ASSETS_DIR / "emonet.tflite"
#: The shipped network alone (no views inside), int8 LiteRT, for views made outside it
#: (:class:`LiteRTModel` with ``views``): written from ``emonet.keras`` by
#: ``export_litert(without_tta(model), path, quantize=True)``.
LITERT_1VIEW_PATH = ASSETS_DIR / "emonet_1view.tflite"
class LiteRTModel:
    """An emotion model saved as LiteRT (``.tflite``, see :func:`emolib.models.export_litert`), run on the CPU.

    Runs without importing TensorFlow, and fast for a few faces. The shipped copy
    is dynamic-range int8 (``export_litert(..., quantize=True)``), with the Keras
    file's 6 test-time views inside, at the Keras file's accuracy (a float32 copy
    gives the Keras probabilities to about 1e-6). Timings per face, of both and
    on the machines we ran, are in the benchmarks (``benchmark_latency.py``,
    ``benchmark_quantization.py``).
    ``predict_on_batch`` (and ``predict``, as in Keras) take (N, 48, 48, 1) or
    (N, 48, 48) raw pixels, 0..255, so :func:`emolib.evaluate.evaluate` accepts it.
    Thread-safe (one call at a time). ``num_threads`` defaults to the CPU count, at most 4.
    ``views`` > 1 (2 or 6, see :data:`VIEWS`): for a file holding the network alone
    (:data:`LITERT_1VIEW_PATH`), average over these test-time views, made here and run in one batch.

    >>> m = LiteRTModel()                                   # the shipped model
    >>> m.predict_on_batch(np.zeros((2, 48, 48, 1), np.float32)).shape
    (2, 7)
    >>> LiteRTModel("no/such/model.tflite")
    Traceback (most recent call last):
    ...
    FileNotFoundError: LiteRT model file not found: no/such/model.tflite
    """

    def __init__(self, path: str | os.PathLike[str] = LITERT_PATH, num_threads: int | None = None,
                 views: int = 1) -> None:
        from .faces import quiet_native_stderr

        if views not in VIEWS:
            raise ValueError(f"views must be one of {sorted(VIEWS)}, not {views!r}")
        self.views = views              # views per face in all (the shipped file: 6, all inside it)
        self._outside = views           # views made here, around the file's network

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"LiteRT model file not found: {path}")
        threads = num_threads or min(4, os.cpu_count() or 1)
        with quiet_native_stderr():  # "Created TensorFlow Lite XNNPACK delegate"
            from ai_edge_litert.interpreter import Interpreter

            try:
                self._interp = Interpreter(model_path=str(path), num_threads=threads)
            except Exception as err:  # a truncated or non-flatbuffer file
                raise ValueError(f"cannot load LiteRT model file {path}: {err}") from None
            inp, out = self._interp.get_input_details()[0], self._interp.get_output_details()[0]
            if (tuple(inp["shape_signature"][1:]) != (IMAGE_SIZE, IMAGE_SIZE, 1)
                    or out["shape"][-1] != len(CLASS_NAMES)):
                raise ValueError(f"{path} is not an emotion model: input {inp['shape_signature'].tolist()}, "
                                 f"output {out['shape'].tolist()}; expected input [-1, 48, 48, 1] and 7 outputs")
            self._in, self._out, self._batch = inp["index"], out["index"], None
            self._lock = threading.Lock()
            self.predict_on_batch(np.zeros((1, IMAGE_SIZE, IMAGE_SIZE, 1), np.float32))  # the first run prints a notice
        self.path, self.num_threads = path, threads
        self.input_shape, self.output_shape = (None, IMAGE_SIZE, IMAGE_SIZE, 1), (None, len(CLASS_NAMES))

    def predict_on_batch(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities (N, 7) for raw pixels (N, 48, 48, 1) or (N, 48, 48)."""
        x = np.asarray(x, np.float32).reshape(-1, IMAGE_SIZE, IMAGE_SIZE, 1)
        if len(x) == 0:
            return np.zeros((0, len(CLASS_NAMES)), np.float32)
        if self._outside > 1:                   # every view of every face in one batch, then the mean
            n = len(x)
            x = make_views(x, self._outside)
            return self._run(x).reshape(self._outside, n, -1).mean(axis=0)
        return self._run(x)

    def _run(self, x: np.ndarray) -> np.ndarray:
        with self._lock:
            if self._batch != len(x):
                self._interp.resize_tensor_input(self._in, x.shape, strict=True)
                self._interp.allocate_tensors()
                self._batch = len(x)
            self._interp.set_tensor(self._in, x)
            self._interp.invoke()
            return self._interp.get_tensor(self._out).copy()

    __call__ = predict_on_batch

    def predict(self, x: np.ndarray, batch_size: int = 256, verbose: int = 0) -> np.ndarray:
        """Like ``keras.Model.predict``: probabilities (N, 7) in batches of ``batch_size``."""
        x = np.asarray(x)
        if len(x) == 0:
            return np.zeros((0, len(CLASS_NAMES)), np.float32)
        return np.concatenate([self.predict_on_batch(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])


_MODEL_LOCK = threading.Lock()
_MODEL = None
_FAST_MODEL = None


def get_model():
    """The shipped Keras model (:func:`emolib.models.load_pretrained`), loaded once per process."""
    global _MODEL
    with _MODEL_LOCK:
        if _MODEL is None:
            from .faces import quiet_native_stderr

            with quiet_native_stderr():  # TensorFlow's import-time notices
                from .models import load_pretrained

                _MODEL = load_pretrained()
        return _MODEL


def get_fast_model(views: int | str | None = None) -> LiteRTModel:
    """The shipped model as LiteRT, loaded once per process: what :func:`classify_faces` uses
    when no model is given.

    ``views``: how many test-time views each face gets (1, 2 or 6; more views, a little more
    accuracy, see :func:`view_choices`, and more time), or ``"auto"``: the most views that
    :func:`choose_views` times within VIEW_BUDGET_MS per face on this machine. ``None`` keeps
    the model already loaded, else takes ``$EMOLIB_VIEWS``, else ``"auto"``. 6 views is the
    shipped file ``assets/emonet.tflite`` (the views inside it); 1 and 2 run
    ``assets/emonet_1view.tflite`` with the views made outside it. ``model.views`` says which.
    """
    global _FAST_MODEL
    with _MODEL_LOCK:
        if _FAST_MODEL is not None and views is None:
            return _FAST_MODEL
        want = views if views is not None else os.environ.get("EMOLIB_VIEWS", "auto")
        if str(want) == "auto":
            want = choose_views()
        want = _views_number(want)
        if _FAST_MODEL is None or _FAST_MODEL.views != want:
            _FAST_MODEL = _views_model(want)
        return _FAST_MODEL


def _views_number(views: int | str) -> int:
    try:
        n = int(views)
    except (TypeError, ValueError):
        n = None
    if n not in VIEWS:
        raise ValueError(f"views must be one of {sorted(VIEWS)} or 'auto', not {views!r}")
    return n


def _views_model(views: int, num_threads: int | None = None) -> LiteRTModel:
    if views == 6 or not LITERT_1VIEW_PATH.is_file():
        model = LiteRTModel(LITERT_PATH, num_threads)       # the shipped file, its 6 views inside
        model.views = 6                                     # (none made outside it)
        return model
    return LiteRTModel(LITERT_1VIEW_PATH, num_threads, views=views)


_VIEW_TIMES: dict[int, float] = {}


def choose_views(budget_ms: float = VIEW_BUDGET_MS, faces: int = 8) -> int:
    """The most test-time views (6, 2 or 1) whose time per face stays within ``budget_ms`` on this
    machine: each choice classifies ``faces`` faces in one batch a few times (the fastest run
    counts, so a busy moment does not decide), once per process (:data:`view_times`).
    1 view when even that is over budget.

    >>> choose_views(budget_ms=1e9)
    6
    >>> choose_views(budget_ms=0)
    1
    """
    if not LITERT_1VIEW_PATH.is_file():
        return 6                                                # only the shipped file: its 6 views
    if not _VIEW_TIMES:
        x = np.full((faces, IMAGE_SIZE, IMAGE_SIZE, 1), 128, np.float32)
        for v in sorted(VIEWS):
            m = _views_model(v)
            m.predict_on_batch(x)                               # the first call allocates
            best = float("inf")
            for _ in range(5):
                t = time.perf_counter()
                m.predict_on_batch(x)
                best = min(best, time.perf_counter() - t)
            _VIEW_TIMES[v] = 1000 * best / faces
    fits = [v for v in VIEWS if _VIEW_TIMES[v] <= budget_ms]
    return max(fits, default=1)


def view_times() -> dict[int, float]:
    """Milliseconds per face of each number of views, as :func:`choose_views` timed them on this machine."""
    if not _VIEW_TIMES:
        choose_views()
    return dict(_VIEW_TIMES)


def classify_faces(faces: np.ndarray, model=None) -> np.ndarray:
    """Class probabilities (N, 7) for uint8 faces (N, 48, 48) in ONE model call.

    ``model`` is a Keras model or a :class:`LiteRTModel`; by default the shipped
    model, run with LiteRT (:func:`get_fast_model`).

    >>> classify_faces(np.zeros((0, 48, 48), np.uint8)).shape
    (0, 7)
    """
    faces = np.asarray(faces)
    if len(faces) == 0:
        return np.zeros((0, len(CLASS_NAMES)), np.float32)
    model = model if model is not None else get_fast_model()
    x = faces.reshape(-1, IMAGE_SIZE, IMAGE_SIZE, 1).astype(np.float32)
    if isinstance(model, LiteRTModel):
        return model.predict_on_batch(x)
    return np.asarray(_compiled(model)(x), dtype=np.float32)


_COMPILED: dict[int, tuple[Any, Any]] = {}


def _compiled(model):
    """``model`` wrapped in a ``tf.function`` traced once for any batch size (faster than an
    eager call for a few faces, and without the per-call overhead of ``model.predict``)."""
    key = id(model)
    if key not in _COMPILED or _COMPILED[key][0] is not model:
        import tensorflow as tf

        fn = tf.function(lambda x: model(x, training=False), reduce_retracing=True,
                         input_signature=[tf.TensorSpec((None, IMAGE_SIZE, IMAGE_SIZE, 1), tf.float32)])
        _COMPILED[key] = (model, fn)
    return _COMPILED[key][1]


def predict_image(image: ImageSource, model=None, detector: str = "full", min_score: float = 0.5,
                  min_face: int | None = MIN_FACE) -> list[FaceResult]:
    """Find every face in ``image`` and classify them all in one batched model call.

    ``image`` is anything :func:`load_photo` reads (an RGB uint8 array is used
    as is). Boxes are in the input's own pixels: a photo larger than MAX_SIDE is
    searched in its downscaled working copy and the boxes scaled back (pass the
    same input, or its :class:`Photo`, to :func:`annotate`). No face gives an
    empty list. Faces down to ``min_face`` pixels of the working copy are looked
    for (see :func:`emolib.faces.detect_faces`; ``None``: one pass over the
    whole image, faces from 1/12 of its long side).

    >>> predict_image(np.zeros((480, 640, 3), np.uint8))
    []
    >>> r = predict_image(sample_paths()[1])[0]        # grace_hopper.jpg
    >>> r.label in CLASS_NAMES, round(sum(r.probabilities.values()), 3)
    (True, 1.0)
    """
    if _is_rgb(image):
        return classify_detections(image, detect(image, detector, min_score, min_face), model)
    photo = load_photo(image)
    results = classify_detections(photo.rgb, detect(photo.rgb, detector, min_score, min_face), model)
    return scale_results(results, (photo.rgb.shape[1], photo.rgb.shape[0]), photo.size)


def classify_detections(rgb: np.ndarray, dets: list, model=None) -> list[FaceResult]:
    """Crop every detection of an RGB image like FER2013 and classify them all in one batch.

    >>> classify_detections(np.zeros((48, 48, 3), np.uint8), [])
    []
    """
    if not dets:
        return []
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    faces = np.stack([crop_face(gray, d.box) for d in dets])
    out = []
    for d, p, f in zip(dets, classify_faces(faces, model), faces):
        k = int(np.argmax(p))
        out.append(FaceResult(d.box, CLASS_NAMES[k], float(p[k]),
                              {c: float(v) for c, v in zip(CLASS_NAMES, p)}, d.score, f))
    return out


# ----------------------------------------------------------------------------- tracking and video
#: A tracked face is classified again every this many frames; in between it keeps its
#: probabilities with its new box (the classifier is most of a frame's time, and an
#: expression lasts longer than the frames a label can lag).
RECLASSIFY = 3
#: :func:`predict_video` runs the face detector on every this many frames (see ``benchmarks/video.py``).
DETECT_EVERY = 2
#: A tracked face keeps its number through this many detections in a row that miss it.
MAX_MISSING = 10
#: A detection continues a track when its box overlaps the track's last box by at least this IoU.
TRACK_MIN_IOU = 0.3


def _closeness(a: Box, b: Box, min_iou: float) -> float:
    """How well box ``b`` continues box ``a``: their IoU where it is at least ``min_iou``; else, for a
    face that moved fast (centres less than half a side apart, sides within a factor of 1.5), a
    score below ``min_iou`` that falls with the distance; 0 for no match."""
    iou = box_iou(a, b)
    if iou >= min_iou:
        return iou
    side = max(a[2], a[3], b[2], b[3])
    if not 1 / 1.5 <= (b[2] * b[3]) / max(a[2] * a[3], 1) <= 1.5:
        return 0.0
    dist = np.hypot(a[0] + a[2] / 2 - b[0] - b[2] / 2, a[1] + a[3] / 2 - b[1] - b[3] / 2) / side
    return min_iou * max(0.0, 1 - 2 * dist) * 0.99


@dataclass
class _Track:
    result: FaceResult                              # its box: where the face is (or is predicted) now
    age: int = 0                                    # frames since it was classified
    missing: int = 0                                # detections in a row that did not find it
    seen: Box | None = None                         # the box of its last detection
    since: int = 0                                  # frames since that detection
    velocity: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0)   # box change per frame, from its last two detections


class FaceTracker:
    """Follows the faces of a video or webcam stream from frame to frame, giving each a number.

    :meth:`update` detects the faces of a frame (or takes detections given) and
    matches each to the face of earlier frames whose box overlaps it most (IoU at
    least ``min_iou``, or, for a face that moved fast, the nearest box of about its
    size less than half a side away; greedily, best first). A matched face keeps its
    ``face_id``; it is classified again once ``reclassify`` frames have passed
    and keeps its probabilities in between. New faces get the next number
    (1, 2, ...). A face missed by more than ``max_missing`` detections in a row
    is forgotten. All faces that need the classifier in a frame go through it in
    one call. :meth:`coast` stands for a frame without detection: each face seen
    in the last detection moves on at its last speed, with no detector or
    classifier call (for detecting only every k-th frame).

    >>> t = FaceTracker()
    >>> t.update(np.zeros((120, 160, 3), np.uint8))
    []
    """

    def __init__(self, model=None, reclassify: int = RECLASSIFY, max_missing: int = MAX_MISSING,
                 min_iou: float = TRACK_MIN_IOU, detector: str = "full", min_score: float = 0.5,
                 min_face: int | None = MIN_FACE) -> None:
        if reclassify < 1:
            raise ValueError(f"reclassify is a number of frames, at least 1, not {reclassify}")
        self.model, self.reclassify, self.max_missing, self.min_iou = model, reclassify, max_missing, min_iou
        self.detector, self.min_score, self.min_face = detector, min_score, min_face
        self._tracks: list[_Track] = []
        self._next_id = 1

    def reset(self) -> None:
        """Forget every face (numbering starts again at 1)."""
        self._tracks, self._next_id = [], 1

    def update(self, rgb: np.ndarray, dets: list | None = None) -> list[FaceResult]:
        """The faces of one RGB uint8 frame, each with its ``face_id``, in the order of the detections."""
        if dets is None:
            dets = detect(rgb, self.detector, self.min_score, self.min_face)
        pairs = sorted(((_closeness(t.result.box, d.box, self.min_iou), ti, di) for ti, t in enumerate(self._tracks)
                        for di, d in enumerate(dets)), reverse=True)
        match: dict[int, int] = {}          # detection -> track
        used: set[int] = set()
        for score, ti, di in pairs:
            if score <= 0:
                break
            if ti not in used and di not in match:
                match[di] = ti
                used.add(ti)
        out: list[_Track | None] = []
        todo: list[int] = []
        for di, d in enumerate(dets):
            ti = match.get(di)
            t = self._tracks[ti] if ti is not None else None
            if t is not None and t.age < self.reclassify - 1:
                out.append(_Track(replace(t.result, box=d.box, detection_score=d.score), t.age + 1))
            else:
                todo.append(di)
                out.append(None)
        for di, r in zip(todo, classify_detections(rgb, [dets[i] for i in todo], self.model)):
            ti = match.get(di)
            if ti is None:
                r.face_id, self._next_id = self._next_id, self._next_id + 1
            else:
                r.face_id = self._tracks[ti].result.face_id
            out[di] = _Track(r)
        for di, t in enumerate(out):     # where it was seen last, and how fast it moves
            ti = match.get(di)
            t.seen = dets[di].box
            if ti is not None and self._tracks[ti].seen is not None:
                old = self._tracks[ti]
                t.velocity = tuple((a - b) / (old.since + 1) for a, b in zip(t.seen, old.seen))
        lost = [replace(t, missing=t.missing + 1) for ti, t in enumerate(self._tracks)
                if ti not in used and t.missing < self.max_missing]
        self._tracks = [t for t in out if t is not None] + lost
        return [t.result for t in out if t is not None]

    def coast(self) -> list[FaceResult]:
        """The faces of a frame that is not looked at: those found by the last :meth:`update`,
        each box moved on at its last speed, probabilities kept."""
        shown = []
        for t in self._tracks:
            if t.missing or t.seen is None:
                continue
            t.since += 1
            t.age += 1
            box = tuple(int(round(a + v * t.since)) for a, v in zip(t.seen, t.velocity))
            t.result = replace(t.result, box=(box[0], box[1], max(1, box[2]), max(1, box[3])))
            shown.append(t.result)
        return shown


#: The columns of :func:`predict_video`'s table, before and after one probability column per class.
VIDEO_COLUMNS = ("frame", "time_s", "face", "label")
VIDEO_BOX_COLUMNS = ("x", "y", "width", "height", "detection_score")


def predict_video(path: str | os.PathLike, model=None, *, reclassify: int = RECLASSIFY,
                  detect_every: int = DETECT_EVERY, min_face: int | None = MIN_FACE,
                  annotated: str | os.PathLike | None = None,
                  emoji: bool = False, progress: bool = False):
    """Every face of every frame of a video file, tracked, as a pandas DataFrame.

    One row per frame and face: ``frame`` (from 0), ``time_s`` (frame / frames per
    second), ``face`` (the :class:`FaceTracker` number, kept while the face stays
    in view), ``label``, one probability column per class name
    (:data:`emolib.data.CLASS_NAMES`), and the box ``x``, ``y``, ``width``,
    ``height`` in the video's own pixels with the detector's ``detection_score``.
    Faces are detected every ``detect_every`` frames (in between, each moves on at its
    last speed: :meth:`FaceTracker.coast`) and classified again once ``reclassify``
    frames have passed, keeping their probabilities in between; ``detect_every=1,
    reclassify=1`` looks at every frame afresh. No face at all gives an empty table
    (with the columns).
    ``df.attrs`` holds the clip's ``fps``, ``frames``, ``width``, ``height``,
    ``codec``, ``source`` and ``stopped_early`` (decoding broke off before the
    container's frame count: a damaged file, also given as a warning).

    ``annotated``: also write the frames with boxes and labels (``#1 happy 80%``)
    to this video file (.mp4, .mov, .avi or .mkv; written whole or not at all;
    frames wider than MAX_SIDE at that working size). ``progress``: a progress bar
    with frames per second. Bad input raises :class:`emolib.video.VideoError`.

    >>> predict_video("no/such/clip.mp4")
    Traceback (most recent call last):
    ...
    emolib.video.VideoError: no/such/clip.mp4: file not found
    """
    import pandas as pd
    from tqdm import tqdm

    if detect_every < 1:
        raise ValueError(f"detect_every is a number of frames, at least 1, not {detect_every}")
    with VideoReader(path) as reader:
        info = reader.info
        tracker = FaceTracker(model, reclassify=reclassify, min_face=min_face)
        work = _downscale(np.zeros((info.height, info.width, 1), np.uint8), MAX_SIDE).shape[:2]
        work_size = (work[1], work[0])
        rows: list[tuple] = []
        with contextlib.ExitStack() as stack:
            writer = stack.enter_context(VideoWriter(annotated, info.fps, work_size)) if annotated else None
            bar = stack.enter_context(tqdm(total=info.frames or None, unit="frame", desc=Path(path).name,
                                           disable=not progress, dynamic_ncols=True))
            for i, t, rgb in reader:
                if work_size != (info.width, info.height):
                    rgb = cv2.resize(rgb, work_size, interpolation=cv2.INTER_AREA)
                results = tracker.update(rgb) if i % detect_every == 0 else tracker.coast()
                if writer is not None:
                    writer.write(annotate(rgb, results, emoji=emoji, bars=False))
                for r in scale_results(results, work_size, (info.width, info.height)):
                    rows.append((i, t, r.face_id, r.label, *(r.probabilities[c] for c in CLASS_NAMES),
                                 *r.box, r.detection_score))
                bar.update()
        if reader.stopped_early:
            warnings.warn(f"{path}: decoding stopped after {reader.frames_read} of {info.frames} frames: "
                          f"the rest of the file is damaged or truncated", stacklevel=2)
    df = pd.DataFrame(rows, columns=[*VIDEO_COLUMNS, *CLASS_NAMES, *VIDEO_BOX_COLUMNS])
    df = df.astype({"frame": "int64", "face": "int64", "x": "int64", "y": "int64",
                    "width": "int64", "height": "int64"})
    df.attrs.update(source=str(path), fps=info.fps, frames=reader.frames_read, width=info.width,
                    height=info.height, codec=info.codec, stopped_early=reader.stopped_early)
    return df


def saliency_map(face: np.ndarray, model=None, label: str | int | None = None,
                 samples: int = 16, noise: float = 10.0, seed: int = 0) -> np.ndarray:
    """Which pixels of a 48x48 face move the model's score for ``label`` most (SmoothGrad).

    The gradient of the class probability with respect to the input pixels,
    averaged over ``samples`` noisy copies of the face (one batched call),
    absolute value, lightly blurred and scaled to 0..1. ``label`` defaults to
    the predicted class.

    >>> m = saliency_map(np.full((48, 48), 128, np.uint8))     # doctest: +SKIP
    >>> m.shape, float(m.max())                                # doctest: +SKIP
    ((48, 48), 1.0)
    """
    import tensorflow as tf

    model = model if model is not None else get_model()
    x0 = np.asarray(face, np.float32).reshape(1, IMAGE_SIZE, IMAGE_SIZE, 1)
    if label is None:
        k = int(np.argmax(classify_faces(x0[..., 0].astype(np.uint8), model)[0]))
    else:
        k = CLASS_NAMES.index(label) if isinstance(label, str) else int(label)
    rng = np.random.default_rng(seed)
    x = np.clip(x0 + rng.normal(0, noise, (samples, *x0.shape[1:])), 0, 255).astype(np.float32)
    x[0] = x0[0]
    xt = tf.convert_to_tensor(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        p = model(xt, training=False)[:, k]
    g = np.abs(tape.gradient(p, xt).numpy()).mean(0)[:, :, 0]
    g = cv2.GaussianBlur(g, (0, 0), 1.0)
    return (g / g.max()).astype(np.float32) if g.max() > 0 else g.astype(np.float32)
