"""Image input: any photo, file or array to a safe RGB array, and the sample photos.

Paths, file bytes, PIL images and numpy arrays; JPEG, PNG, every format Pillow
reads, and HEIC/HEIF through pillow-heif. Photos are turned upright, huge ones
decoded at a reduced scale or refused, and anything unusable raises
:class:`ImageError` with a message saying why. :mod:`emolib.predict`
re-exports these names.

Example
-------
>>> from emolib.images import load_photo, sample_paths
>>> photo = load_photo(sample_paths()[1])        # path, bytes, PIL image or array
>>> photo.rgb.shape, photo.size                  # working copy (RGB uint8), own (width, height)
((600, 512, 3), (512, 600))
"""
from __future__ import annotations

import io
import os
import warnings
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple, TypeVar, Union

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

SAMPLES_DIR = Path(__file__).resolve().parent / "assets" / "samples"
#: A group photo composed from the two sample portraits (12 faces of 44-98 px; made by
#: ``benchmarks/benchmark_group.py --write-sample``; the true face boxes are in its ``.json``).
GROUP_SAMPLE = SAMPLES_DIR / "group_of_12.jpg"

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

ImageSource = Union[str, os.PathLike, bytes, bytearray, memoryview, Image.Image, np.ndarray]


class ImageError(ValueError):
    """The input is not a usable image; the message says what is wrong with it."""


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

    :func:`emolib.predict.predict_image` given a Photo (or a file) reports boxes in the input's
    own pixels, and :func:`emolib.draw.annotate` given the same Photo draws them on its working copy.

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
    emolib.images.ImageError: empty file (0 bytes)
    >>> load_image(b"hello")
    Traceback (most recent call last):
    ...
    emolib.images.ImageError: uploaded data: not an image (or a format Pillow cannot read)

    :func:`load_photo` also gives the input's own size (boxes in its pixels).
    """
    return load_photo(src, bgr, max_side).rgb


R = TypeVar("R")   # a result with a box: emolib.predict.FaceResult


def scale_results(results: list[R], from_size: tuple[int, int], to_size: tuple[int, int]) -> list[R]:
    """The same faces (:class:`emolib.predict.FaceResult`, or any dataclass with a ``box``) with their
    boxes moved from an image of ``from_size`` = (width, height) to one of ``to_size`` (e.g. from
    a :class:`Photo`'s downscaled working copy to the input's own pixels).

    >>> from emolib.predict import FaceResult
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


def _is_rgb(image: Any) -> bool:
    return (isinstance(image, np.ndarray) and image.ndim == 3 and image.shape[2] == 3
            and image.dtype == np.uint8)
