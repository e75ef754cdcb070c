"""From a photo to emotions: load, find faces, classify them all at once, draw the result.

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
import io
import os
import threading
import time
import warnings
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple, Union

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

from .data import CLASS_NAMES, IMAGE_SIZE
from .faces import MIN_FACE, Box, box_iou, crop_face, detect, face_square
from .video import VideoError, VideoReader, VideoWriter

ASSETS_DIR = Path(__file__).resolve().parent / "assets"
SAMPLES_DIR = ASSETS_DIR / "samples"
#: A group photo composed from the two sample portraits (12 faces of 44-98 px; made by
#: ``benchmarks/benchmark_group.py --write-sample``; the true face boxes are in its ``.json``).
GROUP_SAMPLE = SAMPLES_DIR / "group_of_12.jpg"
EMOJI_DIR = ASSETS_DIR / "emoji"

#: Images with more pixels than this are refused before decoding (JPEGs are
#: first decoded at a reduced scale, which is cheap, if that brings them under).
MAX_PIXELS = 64_000_000
#: A JPEG larger than the requested side is decoded at a reduced scale (1/2, 1/4
#: or 1/8, done inside the JPEG decoder, several times faster than decoding it
#: whole) when that keeps at least this fraction of the requested side: a
#: 12-megapixel photo (4032x3024) is then read at 2016x1512 instead of 2048x1536.
DRAFT_MIN_FRACTION = 0.9
#: Decoded images are downscaled so that their longer side is at most this.
MAX_SIDE = 2048
#: Files larger than this are refused unread.
MAX_FILE_BYTES = 50_000_000

#: One colour per class (RGB), used for boxes and bars.
CLASS_COLORS: dict[str, tuple[int, int, int]] = {
    "angry": (220, 50, 47), "disgust": (133, 153, 0), "fear": (108, 113, 196),
    "happy": (250, 190, 0), "sad": (38, 139, 210), "surprise": (211, 54, 130),
    "neutral": (147, 161, 161),
}

ImageSource = Union[str, os.PathLike, bytes, bytearray, memoryview, Image.Image, np.ndarray]


class ImageError(ValueError):
    """The input is not a usable image; the message says what is wrong with it."""


# ----------------------------------------------------------------------------- loading
def sample_paths() -> list[Path]:
    """The sample photos shipped with emolib (public domain, see ``assets/samples/CREDITS.md``).

    >>> [p.name for p in sample_paths()]
    ['astronaut.jpg', 'grace_hopper.jpg']
    """
    return sorted(p for p in SAMPLES_DIR.iterdir()
                  if p.suffix.lower() in (".jpg", ".jpeg", ".png") and p != GROUP_SAMPLE)


def _downscale(rgb: np.ndarray, max_side: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    if max(h, w) <= max_side:
        return rgb
    s = max_side / max(h, w)
    return cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)


def _array_to_rgb(a: np.ndarray, bgr: bool) -> np.ndarray:
    a = np.asarray(a)
    if a.size == 0:
        raise ImageError(f"empty image array (shape {a.shape})")
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] in (3, 4))):
        raise ImageError(f"not an image array: shape {a.shape}; expected (H, W), (H, W, 1), (H, W, 3) or (H, W, 4)")
    if a.shape[0] * a.shape[1] > MAX_PIXELS * 4:
        raise ImageError(f"image too large: {a.shape[1]}x{a.shape[0]} pixels")
    if a.dtype == np.bool_:
        a = a.astype(np.uint8) * 255
    elif a.dtype == np.uint16:
        a = (a >> 8).astype(np.uint8)
    elif np.issubdtype(a.dtype, np.floating):
        if not np.isfinite(a).all():
            raise ImageError("image array contains NaN or infinite values")
        hi = 1.0 if a.max() <= 1.0 else 255.0
        a = np.clip(a * (255.0 / hi), 0, 255).round().astype(np.uint8)
    elif a.dtype != np.uint8:
        if np.issubdtype(a.dtype, np.integer):
            a = np.clip(a, 0, 255).astype(np.uint8)
        else:
            raise ImageError(f"unsupported image array dtype {a.dtype}")
    if a.ndim == 2:
        rgb = cv2.cvtColor(a, cv2.COLOR_GRAY2RGB)
    elif a.shape[2] == 4:
        rgb = cv2.cvtColor(a, cv2.COLOR_BGRA2RGB if bgr else cv2.COLOR_RGBA2RGB)
    else:
        rgb = cv2.cvtColor(a, cv2.COLOR_BGR2RGB) if bgr else a
    return np.ascontiguousarray(rgb)


def _pil_to_rgb(img: Image.Image) -> np.ndarray:
    img = ImageOps.exif_transpose(img) or img
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        a = np.asarray(img).astype(np.int64)
        hi = 65535 if a.max() > 255 else 255
        return _array_to_rgb((a * 255 // max(hi, 1)).astype(np.uint8), False)
    if img.mode == "F":
        return _array_to_rgb(np.asarray(img), False)
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        img = img.convert("RGBA")
        white = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, img)
    return np.asarray(img.convert("RGB"))


#: Brands of a HEIF file's ``ftyp`` box (ISO/IEC 23008-12): HEIC photos of iPhones and Macs, and their kin.
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}


@lru_cache(maxsize=None)
def _heif_opener() -> bool:
    """Teach Pillow HEIC/HEIF (phone photos) through pillow-heif, once; False where it is not installed."""
    try:
        from pillow_heif import register_heif_opener
    except ImportError:
        return False
    register_heif_opener()    # libheif applies the photo's rotation (irot), so it comes out upright
    return True


def _heif_kind(data: bytes | None, path: Path | None) -> str:
    """``"HEIC/HEIF image"`` if the file starts like one, else ``"image"`` (for error messages)."""
    try:
        head = data[:12] if data is not None else path.open("rb").read(12)
    except OSError:
        return "image"
    return "HEIC/HEIF image" if head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS else "image"


def _open(data: bytes | None, path: Path | None, name: str,
          max_side: int = MAX_SIDE) -> tuple[np.ndarray, tuple[int, int]]:
    """The decoded RGB image (perhaps at a reduced scale) and the file's own upright (width, height).
    JPEG, PNG and every format Pillow reads, and HEIC/HEIF through pillow-heif."""
    heif = _heif_opener()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data) if data is not None else path)
            w, h = img.size
            try:
                turned = img.getexif().get(0x0112) in (5, 6, 7, 8)   # EXIF orientation: a quarter turn
            except Exception:   # a damaged EXIF block: exif_transpose ignores it too
                turned = False
            size = (h, w) if turned else (w, h)
            if img.format == "JPEG" and (max(w, h) > max_side or w * h > MAX_PIXELS):
                side = max(1, int(max_side * DRAFT_MIN_FRACTION))
                if w * h > MAX_PIXELS:
                    side = min(side, MAX_SIDE)
                img.draft("RGB", (max(1, w * side // max(w, h)), max(1, h * side // max(w, h))))
            if w * h > MAX_PIXELS:
                if img.size[0] * img.size[1] > MAX_PIXELS:
                    raise ImageError(
                        f"{name}: image too large: {w}x{h} pixels ({w * h / 1e6:.0f} MP); "
                        f"the limit is {MAX_PIXELS / 1e6:.0f} MP")
            img.load()
            return _pil_to_rgb(img), size
    except ImageError:
        raise
    except UnidentifiedImageError:
        if _heif_kind(data, path) != "image":
            raise ImageError(f"{name}: a HEIC/HEIF photo, " + (
                "damaged or truncated (its header cannot be read)" if heif else
                "which needs pillow-heif to be read: pip install pillow-heif")) from None
        raise ImageError(f"{name}: not an image (or a format Pillow cannot read)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise ImageError(f"{name}: image too large: {err}") from None
    except (OSError, SyntaxError, ValueError, EOFError, RuntimeError) as err:
        raise ImageError(f"{name}: damaged or truncated {_heif_kind(data, path)}: {str(err).strip()}") from None


class Photo(NamedTuple):
    """An image as :func:`load_photo` reads it: ``rgb``, the working copy (RGB uint8, longer side
    at most ``max_side``), and ``size``, the input's own upright (width, height) in pixels."""

    rgb: np.ndarray
    size: tuple[int, int]

    @property
    def scale(self) -> float:
        """Working copy's longer side over the input's own (1.0: not downscaled)."""
        return max(self.rgb.shape[:2]) / max(self.size)


def load_photo(src: ImageSource, bgr: bool = False, max_side: int = MAX_SIDE) -> Photo:
    """Like :func:`load_image`, and also the input's own size: a :class:`Photo`.

    :func:`predict_image` given a Photo (or a file) reports boxes in the input's
    own pixels, and :func:`annotate` given the same Photo draws them on its working copy.

    >>> p = load_photo(np.zeros((3000, 4000, 3), np.uint8))
    >>> p.rgb.shape, p.size, p.scale
    ((1536, 2048, 3), (4000, 3000), 0.512)
    """
    if isinstance(src, Photo):
        return src
    if isinstance(src, np.ndarray):
        rgb = _array_to_rgb(src, bgr)
        size = (rgb.shape[1], rgb.shape[0])
    elif isinstance(src, Image.Image):
        w, h = src.size
        if w * h > MAX_PIXELS * 4:
            raise ImageError(f"image too large: {w}x{h} pixels")
        rgb = _pil_to_rgb(src)
        size = (rgb.shape[1], rgb.shape[0])
    elif isinstance(src, (bytes, bytearray, memoryview)):
        data = bytes(src)
        if not data:
            raise ImageError("empty file (0 bytes)")
        if len(data) > MAX_FILE_BYTES:
            raise ImageError(f"file too large: {len(data) / 1e6:.0f} MB; the limit is {MAX_FILE_BYTES / 1e6:.0f} MB")
        rgb, size = _open(data, None, "uploaded data", max_side)
    elif isinstance(src, (str, os.PathLike)):
        path = Path(src)
        if not path.exists():
            raise ImageError(f"{path}: file not found")
        if not path.is_file():
            raise ImageError(f"{path}: not a file")
        nbytes = path.stat().st_size
        if nbytes == 0:
            raise ImageError(f"{path}: empty file (0 bytes)")
        if nbytes > MAX_FILE_BYTES:
            raise ImageError(f"{path}: file too large: {nbytes / 1e6:.0f} MB; "
                             f"the limit is {MAX_FILE_BYTES / 1e6:.0f} MB")
        rgb, size = _open(None, path, str(path), max_side)
    else:
        raise ImageError(f"cannot read an image from a {type(src).__name__}")
    return Photo(_downscale(rgb, max_side), (int(size[0]), int(size[1])))


def load_image(src: ImageSource, bgr: bool = False, max_side: int = MAX_SIDE) -> np.ndarray:
    """Read an image into an RGB uint8 array (H, W, 3), longer side at most ``max_side``.

    ``src`` may be a file path, the file's bytes, a PIL image or a numpy array
    (grayscale, RGB, or BGR with ``bgr=True`` as OpenCV gives; RGBA; uint8,
    uint16 or float). Photos are turned upright by their EXIF orientation.
    Huge images are decoded at reduced scale or refused, never exhausting memory.

    >>> load_image(np.zeros((4000, 3000), np.uint16)).shape
    (2048, 1536, 3)
    >>> load_image(b"")
    Traceback (most recent call last):
    ...
    emolib.predict.ImageError: empty file (0 bytes)
    >>> load_image(b"hello")
    Traceback (most recent call last):
    ...
    emolib.predict.ImageError: uploaded data: not an image (or a format Pillow cannot read)

    :func:`load_photo` also gives the input's own size (boxes in its pixels).
    """
    return load_photo(src, bgr, max_side).rgb


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


def scale_results(results: list[FaceResult], from_size: tuple[int, int],
                  to_size: tuple[int, int]) -> list[FaceResult]:
    """The same faces with their boxes moved from an image of ``from_size`` = (width, height)
    to one of ``to_size`` (e.g. from the downscaled working copy to the input's own pixels).

    >>> r = FaceResult((100, 50, 40, 40), "happy", 0.9, {"happy": 0.9})
    >>> scale_results([r], (2048, 1280), (2400, 1500))[0].box
    (117, 59, 47, 46)
    """
    if tuple(from_size) == tuple(to_size):
        return list(results)
    fx, fy = to_size[0] / from_size[0], to_size[1] / from_size[1]
    out = []
    for r in results:
        x, y, w, h = r.box
        x0, y0 = round(x * fx), round(y * fy)
        x1, y1 = min(to_size[0], round((x + w) * fx)), min(to_size[1], round((y + h) * fy))
        out.append(replace(r, box=(x0, y0, max(1, x1 - x0), max(1, y1 - y0))))
    return out


LITERT_PATH = ASSETS_DIR / "emonet.tflite"
#: The shipped network alone (no views inside), int8 LiteRT, for views made outside it
#: (:class:`LiteRTModel` with ``views``): written from ``emonet.keras`` by
#: ``export_litert(without_tta(model), path, quantize=True)``.
LITERT_1VIEW_PATH = ASSETS_DIR / "emonet_1view.tflite"
#: Test-time views: number of views -> (shifts (dy, dx), mirror each too), as ``emolib.ship.TTA_CHOICES``
#: and ``emolib.models.with_tta`` define them. The shipped file holds 6.
VIEWS: dict[int, tuple[tuple[tuple[int, int], ...], bool]] = {
    1: (((0, 0),), False),                          # the face alone
    2: (((0, 0),), True),                           # the face and its mirror image
    6: (((0, 0), (3, 3), (-3, -3)), True),          # and each moved 3 pixels down-right and up-left
}
#: "auto" views: the most views whose time per face (classifier only, faces in one batch), timed when
#: the model loads, stays within this budget, so that a 40-face photo is classified in well under a second.
VIEW_BUDGET_MS = 10.0


def make_views(x: np.ndarray, views: int) -> np.ndarray:
    """The ``views`` test-time views of faces (N, 48, 48, 1) stacked along the batch axis, view by view
    (the order of ``emolib.models.tta_views``): the face moved by each shift (zeros come in at the
    edges), then the same for its mirror image.

    >>> make_views(np.arange(4, dtype=np.float32).reshape(1, 2, 2, 1), 2)[:, :, :, 0].tolist()
    [[[0.0, 1.0], [2.0, 3.0]], [[1.0, 0.0], [3.0, 2.0]]]
    """
    if views not in VIEWS:
        raise ValueError(f"views must be one of {sorted(VIEWS)}, not {views!r}")
    shifts, mirror = VIEWS[views]
    faces = [x, x[:, :, ::-1]] if mirror else [x]
    out = []
    for face in faces:
        for dy, dx in shifts:
            moved = np.zeros_like(face)
            h, w = face.shape[1:3]
            moved[:, max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
                face[:, max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
            out.append(moved)
    return np.concatenate(out)


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


def view_choices() -> dict[int, float]:
    """PublicTest accuracy of the shipped network with each number of test-time views, read from
    ``assets/results.json`` (measured when it was shipped, ``python -m emolib ship``).

    >>> sorted(view_choices()) == sorted(VIEWS)
    True
    """
    import json

    entry = next(m for m in json.loads((ASSETS_DIR / "results.json").read_text())["models"]
                 if m["name"] == "emonet (shipped)")
    return {int(v): float(c["public_test"]) for v, c in entry["tta_candidates"].items() if int(v) in VIEWS}


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


def _is_rgb(image: Any) -> bool:
    return (isinstance(image, np.ndarray) and image.ndim == 3 and image.shape[2] == 3
            and image.dtype == np.uint8)


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


# ----------------------------------------------------------------------------- drawing
@lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.ImageFont:
    for name in ("DejaVuSans-Bold.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            pass
    return ImageFont.load_default(size=size)


@lru_cache(maxsize=len(CLASS_NAMES))
def emoji_image(label: str) -> Image.Image:
    """The RGBA emoji (256x256) shipped for a class, drawn by ``tools/make_emoji.py``.

    >>> emoji_image("happy").size
    (256, 256)
    """
    if label not in CLASS_NAMES:
        raise ValueError(f"unknown class {label!r}; choose one of {list(CLASS_NAMES)}")
    return Image.open(EMOJI_DIR / f"{label}.png").convert("RGBA")


@lru_cache(maxsize=256)
def _emoji_at(label: str, side: int) -> Image.Image:
    """The emoji for a class, resized to ``side`` pixels (kept: a video draws the same sizes again)."""
    return emoji_image(label).resize((max(1, side), max(1, side)), Image.LANCZOS)


#: Up to this many faces, :func:`annotate` draws each face's probability panel.
PANEL_MAX_FACES = 3

Rect = tuple[int, int, int, int]   # x0, y0, x1, y1


def _overlaps(a: Rect, b: Rect) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def place_label(size: tuple[int, int], box: Box, obstacles: list[Rect], W: int, H: int,
                gap: int = 2, beside_first: bool = False) -> Rect | None:
    """Where a ``size`` = (w, h) label for the face in ``box`` fits inside the W x H image
    without covering any rectangle in ``obstacles`` (the faces, the labels already placed):
    above the face, below it, then beside it (``beside_first``: beside, then below,
    then above); the first that fits, or None.

    >>> place_label((40, 12), (50, 50, 30, 30), [], 200, 200)          # above the face
    (50, 36, 90, 48)
    >>> place_label((40, 12), (50, 50, 30, 30), [(40, 20, 100, 49)], 200, 200)   # below it
    (50, 82, 90, 94)
    """
    w, h = size
    x, y, bw, bh = box
    above = [(x, y - h - gap), (x + bw - w, y - h - gap)]
    below = [(x, y + bh + gap), (x + bw - w, y + bh + gap)]
    beside = [(x + bw + gap, y), (x - w - gap, y), (x + bw + gap, y + bh - h), (x - w - gap, y + bh - h)]
    cands = beside + below + above if beside_first else above + below + beside
    for cx, cy in cands:
        cx = min(max(0, cx), W - w)
        cy = min(max(0, cy), H - h)
        r = (cx, cy, cx + w, cy + h)
        if cx >= 0 and cy >= 0 and not any(_overlaps(r, o) for o in obstacles):
            return r
    return None


def annotate(image: ImageSource, results: list[FaceResult], emoji: bool = False,
             bars: bool | None = None) -> np.ndarray:
    """Draw each face's box and a compact label (emoji and word) onto a copy of ``image``.

    Labels never cover another face: each goes above, below or beside its own
    face where it hits no face and no other label (inside its own box as a last
    resort). ``bars``: each face's probability panel, placed the same way (left
    out where it would cover a face); by default (None) only when there are at
    most PANEL_MAX_FACES faces. With ``emoji=True`` the matching emoji is pasted
    over each face instead of the box. A tracked face's label starts with its
    number (``#2 happy 80%``). An RGB uint8 array is drawn on as is; a file,
    bytes or :class:`Photo` is drawn at its working copy's size (longer side at
    most MAX_SIDE), with ``results`` taken to be in the input's own pixels, as
    :func:`predict_image` gives them. Returns an RGB uint8 array.

    >>> out = annotate(np.zeros((100, 120, 3), np.uint8), [])
    >>> out.shape, out.dtype
    ((100, 120, 3), dtype('uint8'))
    """
    if _is_rgb(image):
        rgb = image
    else:
        photo = load_photo(image)
        rgb = photo.rgb
        results = scale_results(results, photo.size, (rgb.shape[1], rgb.shape[0]))
    canvas = Image.fromarray(np.ascontiguousarray(rgb))
    draw = ImageDraw.Draw(canvas)
    H, W = rgb.shape[:2]
    bars = len(results) <= PANEL_MAX_FACES if bars is None else bars
    lw = max(2, round(min(W, H) / 300))
    faces: list[Rect] = [(r.box[0], r.box[1], r.box[0] + r.box[2], r.box[1] + r.box[3]) for r in results]
    taken: list[Rect] = []
    for i, r in enumerate(results):
        x, y, w, h = r.box
        color = CLASS_COLORS.get(r.label, (255, 255, 255))
        if emoji:
            sx, sy, side, _ = face_square(r.box, scale=1.15, shift_y=0.0)
            em = _emoji_at(r.label, side)
            canvas.paste(em, (sx, sy), em)
        else:
            draw.rectangle([x, y, x + w, y + h], outline=color, width=lw)
        others = faces + taken     # its own face too: a label beside it, not on it
        # the label: [emoji] word NN%, as large as fits (from a sixth of the face down to 9 px)
        for fs in sorted({max(9, min(28, round(w / 6))), max(9, min(28, round(w / 6)) * 3 // 4), 9}, reverse=True):
            font = _font(fs)
            text = f"{'' if r.face_id is None else f'#{r.face_id} '}{r.label} {100 * r.score:.0f}%"
            tb = draw.textbbox((0, 0), text, font=font)
            th = tb[3] - tb[1]
            icon = 0 if emoji else th + 4
            size = (icon + tb[2] - tb[0] + 8, th + 8)
            spot = place_label(size, r.box, others, W, H)
            if spot:
                break
        if spot is None:   # nowhere outside: over the bottom of its own face
            spot = (x, y + h - size[1], x + size[0], y + h)
        taken.append(spot)
        draw.rectangle(spot, fill=color)
        if icon:
            em = _emoji_at(r.label, th + 2)
            canvas.paste(em, (spot[0] + 3, spot[1] + 3), em)
        draw.text((spot[0] + 4 + icon, spot[1] + 4 - tb[1]), text, fill=(0, 0, 0), font=font)
        if bars:
            _draw_bars(draw, r, W, H, faces + taken, taken)
    return np.asarray(canvas)


def _draw_bars(draw: ImageDraw.ImageDraw, r: FaceResult, W: int, H: int,
               obstacles: list[Rect], taken: list[Rect]) -> None:
    """Seven small horizontal probability bars beside (or below) the face, where they cover no other face."""
    x, y, w, h = r.box
    fs = max(9, min(18, round(h / 12)))
    font = _font(fs)
    row = fs + 3
    label_w = draw.textlength("surprise ", font=font)
    bar_w = max(30, min(120, w // 2))
    total_w = round(label_w + bar_w + 4)
    spot = place_label((total_w + 4, 7 * row + 4), (x, y, w, h), obstacles, W, H, gap=6, beside_first=True)
    if spot is None:
        return
    taken.append(spot)
    draw.rectangle(spot, fill=(0, 0, 0))
    bx, by = spot[0] + 2, spot[1] + 2
    for i, c in enumerate(CLASS_NAMES):
        yy = by + i * row
        draw.text((bx, yy), c, fill=(255, 255, 255), font=font)
        p = r.probabilities.get(c, 0.0)
        draw.rectangle([bx + label_w, yy + 2, bx + label_w + bar_w, yy + row - 2], outline=(90, 90, 90))
        draw.rectangle([bx + label_w, yy + 2, bx + label_w + round(bar_w * p), yy + row - 2],
                       fill=CLASS_COLORS[c])
