"""Load FER2013 in the forms people actually have.

Three sources are understood:

* the Kaggle folder layout (``train/<class>/*.jpg``, ``test/<class>/*.jpg``),
* the original ``fer2013.csv`` (``emotion,pixels,Usage``) and its
  ``icml_face_data.csv`` variant,
* either of the above inside a downloaded ``.zip`` archive.

The result is cached as an ``.npz`` file in your user cache folder (:func:`default_cache_dir`), so that a
second load only reads that file instead of decoding every image again.

Example
-------
>>> from emolib.data import load_fer2013
>>> fer = load_fer2013()                     # doctest: +SKIP
>>> fer.train.images.shape, fer.class_names[3]  # doctest: +SKIP
((28709, 48, 48), 'happy')
"""
from __future__ import annotations

import csv
import hashlib
import io
import os
import shutil
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
from PIL import Image, UnidentifiedImageError
from tqdm.auto import tqdm

CLASS_NAMES: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
#: One colour per class (RGB, 0-255), the same in every drawing and figure: boxes, bars, the widget, the plots.
CLASS_COLORS: dict[str, tuple[int, int, int]] = {
    "angry": (220, 50, 47), "disgust": (133, 153, 0), "fear": (108, 113, 196),
    "happy": (250, 190, 0), "sad": (38, 139, 210), "surprise": (211, 54, 130),
    "neutral": (147, 161, 161),
}
IMAGE_SIZE = 48
SPLITS = ("train", "val", "test")
#: FER2013 ``Usage`` value (and Kaggle file-name prefix) of each split.
USAGE = {"train": "Training", "val": "PublicTest", "test": "PrivateTest"}
CACHE_VERSION = 1
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")
#: The repository's ``data/`` folder (git-ignored), where caches were written before they moved to the user cache
#: folder (still read there, :func:`load_fer2013`).
REPO_DATA_DIR = Path(__file__).resolve().parent.parent / "data"


def data_home(package_dir: str | os.PathLike | None = None) -> Path:
    """Where FER2013 goes and is looked for by default (``<data_home>/fer2013``): the ``data/`` folder of the course's
    checkout when emolib runs from one (the folder above the package holds ``pyproject.toml``), else the user's data
    folder (platformdirs, else ``$XDG_DATA_HOME/emolib`` or ``~/.local/share/emolib``): never next to an installed
    package.

    >>> data_home().name
    'data'
    """
    package = Path(package_dir) if package_dir is not None else Path(__file__).resolve().parent
    if (package.parent / "pyproject.toml").is_file():
        return package.parent / "data"
    try:
        import platformdirs
    except ImportError:
        base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
        return Path(base).expanduser() / "emolib"
    return Path(platformdirs.user_data_dir("emolib", appauthor=False))

HOW_TO_GET = (
    "Get it with  python -m emolib download  (the Kaggle dataset 'msambare/fer2013'; needs your Kaggle token), or "
    "download FER2013 yourself, e.g. the Kaggle dataset 'msambare/fer2013' (folders) "
    "or the original challenge file 'fer2013.csv', and put it in data/fer2013 "
    "(or point the EMOLIB_DATA environment variable or the root argument at it). "
    "See data/README.md."
)


class DataError(ValueError):
    """Raised when the dataset is missing or malformed; the message names the culprit."""


@dataclass(frozen=True)
class Split:
    """One split of the dataset: ``images`` uint8 (N, 48, 48) and ``labels`` int64 (N,)."""

    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def class_counts(self) -> np.ndarray:
        """Number of images per class, in class order.

        >>> Split(np.zeros((3, 48, 48), np.uint8), np.array([0, 3, 3])).class_counts()
        array([1, 0, 0, 2, 0, 0, 0])
        """
        return np.bincount(self.labels, minlength=len(CLASS_NAMES))


@dataclass(frozen=True)
class FER2013:
    """The three standard splits: train (Training), val (PublicTest), test (PrivateTest)."""

    train: Split
    val: Split
    test: Split
    class_names: tuple[str, ...] = CLASS_NAMES
    source: str = ""

    def splits(self) -> dict[str, Split]:
        """The splits by name, in the order train, val, test."""
        return {"train": self.train, "val": self.val, "test": self.test}


# --------------------------------------------------------------------------- where
def candidate_roots(root: str | os.PathLike | None = None) -> list[Path]:
    """Places searched for the data, in order: argument, ``EMOLIB_DATA``, ``fer2013`` in :func:`data_home`."""
    if root is not None:
        return [Path(root).expanduser()]
    places = []
    if os.environ.get("EMOLIB_DATA"):
        places.append(Path(os.environ["EMOLIB_DATA"]).expanduser())
    places.append(data_home() / "fer2013")
    return places


def _looks_like_data(path: Path) -> bool:
    if path.is_file():
        return path.suffix.lower() in (".csv", ".zip")
    if not path.is_dir():
        return False
    if (path / "train").is_dir() or (path / "test").is_dir():
        return True
    return any(p.suffix.lower() in (".csv", ".zip") for p in path.iterdir())


def find_data(root: str | os.PathLike | None = None) -> Path:
    """Return the first place that holds FER2013, or raise :class:`DataError` listing all tried.

    >>> find_data("/no/such/place")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    emolib.data.DataError: FER2013 not found. Places tried: /no/such/place. Get it with  python -m emolib download ...
    """
    tried = candidate_roots(root)
    for i, place in enumerate(tried):
        if _looks_like_data(place):
            if i > 0:
                warnings.warn(f"EMOLIB_DATA={tried[0]} holds no FER2013; using {place} instead", stacklevel=2)
            return place
    raise DataError(
        "FER2013 not found. Places tried: "
        + ", ".join(str(p) for p in tried)
        + (" (EMOLIB_DATA is not set)" if root is None and not os.environ.get("EMOLIB_DATA") else "")
        + ". "
        + HOW_TO_GET
    )


def _resolve_source(place: Path) -> Path:
    """Inside a directory, pick the folder layout, else a CSV, else a zip."""
    if place.is_file():
        return place
    if (place / "train").is_dir() or (place / "test").is_dir():
        return place
    for name in ("fer2013.csv", "icml_face_data.csv"):
        if (place / name).is_file():
            return place / name
    csvs = sorted(place.glob("*.csv"))
    if csvs:
        return csvs[0]
    zips = sorted(place.glob("*.zip"))
    if zips:
        return zips[0]
    raise DataError(f"{place} holds neither train/ and test/ folders, nor a .csv, nor a .zip. {HOW_TO_GET}")


# --------------------------------------------------------------------------- images
class _Converter:
    """Decode image bytes to 48x48 uint8 grayscale, counting conversions."""

    def __init__(self) -> None:
        self.converted = 0
        self.example = ""

    def __call__(self, data: bytes, name: str) -> np.ndarray:
        try:
            with Image.open(io.BytesIO(data)) as im:
                im.load()
                if im.mode != "L" or im.size != (IMAGE_SIZE, IMAGE_SIZE):
                    self.converted += 1
                    self.example = self.example or f"{name} ({im.mode}, {im.size[0]}x{im.size[1]})"
                    im = im.convert("L")
                    if im.size != (IMAGE_SIZE, IMAGE_SIZE):
                        im = im.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BILINEAR)
                return np.asarray(im, dtype=np.uint8)
        except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError, SyntaxError) as err:
            raise DataError(f"cannot read image {name}: {err}") from None


def _split_of_name(filename: str) -> str | None:
    for split, usage in USAGE.items():
        if filename.startswith(usage + "_"):
            return split
    return None


def _stratified_halves(labels: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Split indices into two stratified halves (val, test) with a fixed seed.

    Within each class the order is shuffled, then images are dealt alternately to
    val and test, so per-class and total sizes differ by at most one.

    >>> v, t = _stratified_halves(np.array([0, 0, 0, 1, 1, 6]))
    >>> len(v), len(t), sorted(np.r_[v, t].tolist())
    (3, 3, [0, 1, 2, 3, 4, 5])
    """
    rng = np.random.default_rng(seed)
    order = np.concatenate([rng.permutation(np.flatnonzero(labels == c)) for c in np.unique(labels)])
    return np.sort(order[0::2]), np.sort(order[1::2])


def _assemble(
    entries: list[tuple[str, str, str]], read: Callable[[str, str, str], bytes], progress: bool, what: str
) -> dict[str, Split]:
    """entries: (top folder 'train'|'test', class name, file name) -> splits."""
    conv = _Converter()
    names = {c: i for i, c in enumerate(CLASS_NAMES)}
    buckets: dict[str, tuple[list, list]] = {"train": ([], []), "test": ([], []), "_unprefixed": ([], [])}
    for top, cls, fname in tqdm(entries, desc=f"Reading {what}", unit="img", disable=not progress):
        label = names[cls]
        split = _split_of_name(fname)
        key = split if split is not None else ("train" if top == "train" else "_unprefixed")
        if key == "train" and top == "test":
            raise DataError(f"{what}/{top}/{cls}/{fname}: a Training_ image inside test/")
        imgs, labs = buckets.setdefault(key, ([], []))
        name = f"{what}/{top}/{cls}/{fname}"
        try:
            raw = read(top, cls, fname)
        except (OSError, zipfile.BadZipFile, zlib.error, EOFError, RuntimeError) as err:
            raise DataError(f"cannot read {name}: {err}") from None
        imgs.append(conv(raw, name))
        labs.append(label)
    if not entries:
        raise DataError(f"{what}: the class folders hold no images ({', '.join(IMAGE_EXTENSIONS)})")
    if conv.converted:
        warnings.warn(
            f"{conv.converted} image(s) were not 48x48 grayscale and were converted, e.g. {conv.example}",
            stacklevel=3,
        )

    def stack(key):
        imgs, labs = buckets.get(key, ([], []))
        if not imgs:
            return np.zeros((0, IMAGE_SIZE, IMAGE_SIZE), np.uint8), np.zeros((0,), np.int64)
        return np.stack(imgs), np.asarray(labs, np.int64)

    out = {s: Split(*stack(s)) for s in SPLITS}
    rest_x, rest_y = stack("_unprefixed")
    if len(rest_y):
        if len(out["val"]) or len(out["test"]):
            raise DataError(f"{what}/test: mixes PublicTest_/PrivateTest_ file names with unprefixed ones")
        vi, ti = _stratified_halves(rest_y)
        out["val"], out["test"] = Split(rest_x[vi], rest_y[vi]), Split(rest_x[ti], rest_y[ti])
    return out


def _folder_entries(listing: dict[str, dict[str, list[str]]], where: str) -> list[tuple[str, str, str]]:
    """Check the class folders of train/ and test/ and flatten to entries."""
    if not listing:
        raise DataError(f"{where}: no train/ or test/ folder")
    entries = []
    for top in ("train", "test"):
        if top not in listing:
            raise DataError(f"{where}: folder {top}/ is missing")
        classes = listing[top]
        unknown = sorted(set(classes) - set(CLASS_NAMES))
        if unknown:
            raise DataError(f"{where}/{top}: unknown label folder(s) {unknown}; expected {list(CLASS_NAMES)}")
        missing = [c for c in CLASS_NAMES if c not in classes]
        if missing:
            raise DataError(f"{where}/{top}: class folder(s) missing: {missing}")
        for cls in CLASS_NAMES:
            entries += [(top, cls, f) for f in sorted(classes[cls])]
    return entries


def _read_folders(root: Path, progress: bool) -> dict[str, Split]:
    listing: dict[str, dict[str, list[str]]] = {}
    for top in ("train", "test"):
        if (root / top).is_dir():
            listing[top] = {
                d.name: [
                    f.name
                    for f in os.scandir(d)
                    if f.is_file() and not f.name.startswith(".") and f.name.lower().endswith(IMAGE_EXTENSIONS)
                ]
                for d in os.scandir(root / top)
                if d.is_dir() and not d.name.startswith(".")
            }
    entries = _folder_entries(listing, str(root))
    return _assemble(entries, lambda t, c, f: (root / t / c / f).read_bytes(), progress, str(root))


# --------------------------------------------------------------------------- csv
CSV_PREFERENCE = ("fer2013.csv", "icml_face_data.csv")


def _short(value: str, limit: int = 40) -> str:
    """repr() of a field, cut short so that a garbage line does not flood the message."""
    return repr(value) if len(value) <= limit else repr(value[:limit]) + f"... ({len(value)} characters)"


def _parse_pixels(text: str, where: str, lineno: int) -> np.ndarray:
    """A 'pixels' field: exactly 2304 space-separated integers in 0..255."""
    parts = text.split()
    if len(parts) != IMAGE_SIZE * IMAGE_SIZE:
        raise DataError(f"{where}, line {lineno}: {len(parts)} pixel values, expected {IMAGE_SIZE * IMAGE_SIZE} (48x48)")
    try:
        pix = np.array(parts, dtype=np.int64)
    except (ValueError, OverflowError):
        bad = next(p for p in parts if not p.lstrip("+-").isdigit())
        raise DataError(f"{where}, line {lineno}: pixel value {_short(bad)} is not an integer in 0..255") from None
    if pix.min() < 0 or pix.max() > 255:
        bad = pix[(pix < 0) | (pix > 255)][0]
        raise DataError(f"{where}, line {lineno}: pixel value {bad} is outside 0..255")
    return pix.astype(np.uint8).reshape(IMAGE_SIZE, IMAGE_SIZE)


def _parse_csv(lines: Iterable[str], where: str, progress: bool) -> dict[str, Split]:
    """Parse ``emotion,pixels,Usage`` rows (any column order, headers may carry spaces)."""
    reader = csv.reader(lines)
    try:
        return _parse_rows(reader, where, progress)
    except csv.Error as err:
        raise DataError(f"{where}, line {reader.line_num}: malformed CSV ({err})") from None
    except UnicodeDecodeError as err:
        raise DataError(f"{where}, after line {reader.line_num}: not a UTF-8 text file ({err.reason})") from None


def _parse_rows(reader, where: str, progress: bool) -> dict[str, Split]:
    try:
        header = [h.strip().lstrip("\ufeff").strip() for h in next(reader)]
    except StopIteration:
        raise DataError(f"{where}: the CSV file is empty") from None
    need = ("emotion", "pixels", "Usage")
    missing = [c for c in need if c not in header]
    if missing:
        raise DataError(
            f"{where}: wrong columns: missing {missing}; expected {list(need)} (fer2013.csv or icml_face_data.csv), "
            f"found {_short(', '.join(header), 120)}"
        )
    ie, ip, iu = header.index("emotion"), header.index("pixels"), header.index("Usage")
    usage_to_split = {v: k for k, v in USAGE.items()}
    data: dict[str, tuple[list, list]] = {s: ([], []) for s in SPLITS}
    for row in tqdm(reader, desc=f"Reading {Path(where).name}", unit="row", disable=not progress):
        lineno = reader.line_num
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(header):
            raise DataError(f"{where}, line {lineno}: expected {len(header)} fields, found {len(row)}")
        usage = row[iu].strip()
        if usage not in usage_to_split:
            raise DataError(f"{where}, line {lineno}: unknown Usage {_short(usage)}; expected one of {list(USAGE.values())}")
        try:
            label = int(row[ie])
        except ValueError:
            raise DataError(f"{where}, line {lineno}: unknown label {_short(row[ie])}; expected an integer 0..6") from None
        if not 0 <= label < len(CLASS_NAMES):
            raise DataError(f"{where}, line {lineno}: unknown label {label}; expected 0..{len(CLASS_NAMES) - 1}")
        imgs, labs = data[usage_to_split[usage]]
        imgs.append(_parse_pixels(row[ip], where, lineno))
        labs.append(label)
    out = {}
    for s, (imgs, labs) in data.items():
        x = np.stack(imgs) if imgs else np.zeros((0, IMAGE_SIZE, IMAGE_SIZE), np.uint8)
        out[s] = Split(x, np.asarray(labs, np.int64))
    if not any(len(v) for v in out.values()):
        raise DataError(f"{where}: the CSV file holds a header but no images")
    return out


def _read_csv(path: Path, progress: bool) -> dict[str, Split]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            return _parse_csv(fh, str(path), progress)
    except OSError as err:
        raise DataError(f"cannot read {path}: {err}") from None


# --------------------------------------------------------------------------- zip
def _read_zip(path: Path, progress: bool) -> dict[str, Split]:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as err:
        raise DataError(f"{path}: not a readable zip archive ({err})") from None
    try:
        with zf:
            return _read_zip_members(zf, path, progress)
    except (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError) as err:  # corrupt member, encrypted member
        raise DataError(f"{path}: damaged zip archive ({err})") from None


def _read_zip_members(zf: zipfile.ZipFile, path: Path, progress: bool) -> dict[str, Split]:
    names = [n for n in zf.namelist() if not n.endswith("/") and "__MACOSX" not in n]
    csvs = [n for n in names if n.lower().endswith(".csv")]
    listing: dict[str, dict[str, list[str]]] = {}
    where: dict[tuple[str, str, str], str] = {}
    for n in names:
        parts = n.split("/")
        if (
            len(parts) >= 3
            and parts[-3] in ("train", "test")
            and not parts[-1].startswith(".")
            and n.lower().endswith(IMAGE_EXTENSIONS)
        ):
            top, cls, fname = parts[-3:]
            listing.setdefault(top, {}).setdefault(cls, []).append(fname)
            where[(top, cls, fname)] = n
    if listing:
        entries = _folder_entries(listing, str(path))
        return _assemble(entries, lambda t, c, f: zf.read(where[(t, c, f)]), progress, str(path))
    if csvs:
        ranked = sorted(csvs, key=lambda n: (next((i for i, p in enumerate(CSV_PREFERENCE) if n.endswith(p)), 9), n))
        pick = ranked[0]
        with zf.open(pick) as raw:
            return _parse_csv(io.TextIOWrapper(raw, encoding="utf-8-sig", newline=""), f"{path}:{pick}", progress)
    raise DataError(f"{path}: the archive holds neither train/ and test/ class folders nor a CSV file")


# --------------------------------------------------------------------------- cache
def _signature(source: Path) -> str:
    """Cheap fingerprint of the source: paths, sizes and mtimes of everything in it."""
    h = hashlib.sha1(f"v{CACHE_VERSION}|{source.resolve()}".encode())
    if source.is_file():
        st = source.stat()
        h.update(f"{st.st_size}|{st.st_mtime_ns}".encode())
    else:
        for top in ("train", "test"):
            base = source / top
            if not base.is_dir():
                continue
            for d in sorted(os.scandir(base), key=lambda e: e.name):
                if not d.is_dir():
                    continue
                files = sorted(os.scandir(d), key=lambda e: e.name)
                h.update(f"{top}/{d.name}:{len(files)}".encode())
                for f in files:
                    st = f.stat()
                    h.update(f"{f.name}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def user_cache_dir() -> Path:
    """This user's cache folder for emolib: ``platformdirs.user_cache_dir("emolib")`` when platformdirs is installed
    (``~/.cache/emolib`` on Linux, honouring ``XDG_CACHE_HOME``; ``~/Library/Caches/emolib`` on macOS;
    ``%LOCALAPPDATA%\\emolib\\Cache`` on Windows), else ``$XDG_CACHE_HOME/emolib`` or ``~/.cache/emolib``."""
    try:
        import platformdirs
    except ImportError:
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        return Path(base).expanduser() / "emolib"
    return Path(platformdirs.user_cache_dir("emolib", appauthor=False))


#: Folder of :func:`default_cache_dir` where :func:`emolib.evaluate.evaluate` keeps Keras models' predictions.
PREDICTIONS_DIR = "predictions"


def default_cache_dir() -> Path:
    """Where :func:`load_fer2013` keeps its cache: ``EMOLIB_CACHE`` if set, else :func:`user_cache_dir` (never
    inside the installed package or the dataset's folder, which may be read-only)."""
    env = os.environ.get("EMOLIB_CACHE")
    return Path(env).expanduser() if env else user_cache_dir()


def clear_cache() -> list[Path]:
    """Delete every FER2013 cache file in :func:`default_cache_dir` and in the repository's ``data/`` folder, where
    older versions wrote them, and the models' predictions that :func:`emolib.evaluate.evaluate` keeps
    (``make clean-cache``); returns the files deleted. Deleting them is always safe."""
    removed = []
    for folder in dict.fromkeys([default_cache_dir(), REPO_DATA_DIR]):
        for path in sorted(folder.glob("fer2013-cache-*.npz")):
            path.unlink(missing_ok=True)
            removed.append(path)
    predictions = default_cache_dir() / PREDICTIONS_DIR
    if predictions.is_dir():
        removed += sorted(p for p in predictions.rglob("*") if p.is_file())
        shutil.rmtree(predictions, ignore_errors=True)
    return removed


def load_fer2013(
    root: str | os.PathLike | None = None,
    *,
    cache: bool = True,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = True,
) -> FER2013:
    """Load FER2013 as three splits of uint8 (N, 48, 48) images and int labels.

    Looks in ``root``, else ``$EMOLIB_DATA``, else ``data/fer2013``; ``root`` may be
    a Kaggle-layout folder, a ``.csv`` file, a ``.zip`` archive, or a folder holding
    one of those. Never downloads anything. The decoded arrays are cached in ``cache_dir``
    (default: :func:`default_cache_dir`); with the default, a cache that an older version
    wrote into the repository's ``data/`` folder is still read.

    >>> fer = load_fer2013()                        # doctest: +SKIP
    >>> len(fer.train), len(fer.val), len(fer.test)  # doctest: +SKIP
    (28709, 3589, 3589)
    """
    source = _resolve_source(find_data(root))
    cache_file = None
    if cache:
        cdir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        cache_file = cdir / f"fer2013-cache-{_signature(source)}.npz"
        found = cache_file
        if cache_dir is None and not os.environ.get("EMOLIB_CACHE") and not found.is_file():
            legacy = REPO_DATA_DIR / cache_file.name  # written there by an older version: still read
            found = legacy if legacy.is_file() else found
        if found.is_file():
            try:
                splits = _load_cache(found)
                return FER2013(**splits, source=str(source))
            except Exception as err:  # a damaged cache is rebuilt (in cdir), never trusted
                warnings.warn(f"the cache {found} is damaged ({err}); rebuilding it", stacklevel=2)
                found.unlink(missing_ok=True)
    if source.is_dir():
        splits = _read_folders(source, progress)
    elif source.suffix.lower() == ".zip":
        splits = _read_zip(source, progress)
    elif source.suffix.lower() == ".csv":
        splits = _read_csv(source, progress)
    else:
        raise DataError(f"{source}: unsupported file type; give a folder, a .csv or a .zip")
    if cache_file is not None:
        try:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            for old in cache_file.parent.glob("fer2013-cache-*.npz"):
                if old != cache_file and _same_source(old, source):
                    old.unlink(missing_ok=True)
            tmp = cache_file.with_name(f"{cache_file.name}.{os.getpid()}.tmp")
            arrays = {f"{s}_{k}": getattr(splits[s], a) for s in SPLITS for k, a in (("x", "images"), ("y", "labels"))}
            with open(tmp, "wb") as fh:
                np.savez(fh, source=np.array(str(source.resolve())), **arrays)
            os.replace(tmp, cache_file)
        except OSError as err:
            warnings.warn(f"could not write the cache {cache_file}: {err}", stacklevel=2)
    return FER2013(**splits, source=str(source))


def _load_cache(cache_file: Path) -> dict[str, Split]:
    """Read and check a cache file; any problem raises."""
    with np.load(cache_file, allow_pickle=False) as z:
        splits = {s: Split(z[f"{s}_x"], z[f"{s}_y"]) for s in SPLITS}
    for name, sp in splits.items():
        x, y = sp.images, sp.labels
        if x.dtype != np.uint8 or x.ndim != 3 or x.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
            raise ValueError(f"{name} images have dtype {x.dtype} and shape {x.shape}")
        if y.dtype != np.int64 or y.shape != (len(x),) or (len(y) and not 0 <= y.min() <= y.max() < len(CLASS_NAMES)):
            raise ValueError(f"{name} labels do not match the images")
    return splits


def _same_source(cache_file: Path, source: Path) -> bool:
    try:
        with np.load(cache_file) as z:
            return str(z["source"]) == str(source.resolve())
    except Exception:
        return True  # unreadable cache: remove it


def to_dataset_arrays(split: Split) -> tuple[np.ndarray, np.ndarray]:
    """Images as (N, 48, 48, 1) uint8, the model input, and labels.

    >>> x, y = to_dataset_arrays(Split(np.zeros((2, 48, 48), np.uint8), np.array([1, 2])))
    >>> x.shape
    (2, 48, 48, 1)
    """
    return split.images[..., None], split.labels


# --------------------------------------------------------------------------- exploring
def class_counts_table(fer: FER2013) -> "pd.DataFrame":
    """Images per emotion (rows) and split (columns), with totals and the share of each emotion.

    >>> sp = Split(np.zeros((3, 48, 48), np.uint8), np.array([0, 3, 3]))
    >>> class_counts_table(FER2013(sp, sp, sp)).loc["happy"].tolist()
    [2.0, 2.0, 2.0, 6.0, 66.7]
    """
    import pandas as pd

    table = pd.DataFrame({name: sp.class_counts()[: len(fer.class_names)] for name, sp in fer.splits().items()},
                         index=pd.Index(fer.class_names, name="emotion"))
    table["total"] = table.sum(axis=1)
    table["% of all"] = (100 * table["total"] / max(int(table["total"].sum()), 1)).round(1)
    table.loc["all"] = table.sum(axis=0)
    table.loc["all", "% of all"] = 100.0
    return table


def grey_level_counts(images: np.ndarray) -> np.ndarray:
    """How many pixels of ``images`` (uint8) have each grey level: 256 counts, for level 0 (black) to 255 (white).

    >>> grey_level_counts(np.array([[0, 0], [255, 7]], np.uint8))[[0, 7, 255]].tolist()
    [2, 1, 1]
    """
    flat, counts = np.asarray(images, np.uint8).ravel(), np.zeros(256, np.int64)
    for start in range(0, len(flat), 2**22):  # in slices: bincount copies its input as 64-bit integers
        counts += np.bincount(flat[start:start + 2**22], minlength=256)
    return counts


def pixel_statistics(fer: FER2013) -> "pd.DataFrame":
    """Mean, standard deviation, min and max pixel value (0..255) per split.

    >>> sp = Split(np.full((2, 48, 48), 10, np.uint8), np.array([0, 1]))
    >>> pixel_statistics(FER2013(sp, sp, sp)).loc["train", ["images", "mean", "std"]].tolist()
    [2.0, 10.0, 0.0]
    """
    import pandas as pd

    rows = {}
    levels = np.arange(256, dtype=np.float64)
    for name, sp in fer.splits().items():
        counts = grey_level_counts(sp.images)
        mean = float(counts @ levels) / max(counts.sum(), 1)
        seen = np.flatnonzero(counts)
        rows[name] = {
            "images": len(sp),
            "mean": round(mean, 2) if len(sp) else float("nan"),
            "std": round(float(np.sqrt(counts @ (levels - mean) ** 2 / counts.sum())), 2) if len(sp) else float("nan"),
            "min": int(seen[0]) if len(sp) else 0,
            "max": int(seen[-1]) if len(sp) else 0,
        }
    return pd.DataFrame.from_dict(rows, orient="index")


@dataclass(frozen=True)
class Duplicates:
    """Exact-duplicate images, found by hashing the raw bytes of every image.

    ``images`` has one row per image that shares its bytes with at least one
    other image (in any split): columns ``group`` (same number = identical pixels),
    ``split``, ``index`` (position in that split), ``label`` and ``class_name``.
    """

    images: "pd.DataFrame"
    split_sizes: dict[str, int]

    def summary(self) -> "pd.DataFrame":
        """One row per split (``within train``...) and per pair of splits (``train-val``...).

        Columns: ``groups`` (distinct images concerned), ``images`` (within a split:
        redundant copies, i.e. images you could delete; across splits: images of the
        second split whose exact copy is in the first), ``conflicting_labels`` (groups
        whose copies carry different labels).
        """
        import pandas as pd

        df = self.images
        rows = {}
        for s in SPLITS:
            part = df[df["split"] == s]
            sizes = part.groupby("group").size()
            groups = sizes[sizes >= 2].index
            inner = part[part["group"].isin(groups)]
            rows[f"within {s}"] = {
                "groups": len(groups),
                "images": int((sizes[sizes >= 2] - 1).sum()),
                "conflicting_labels": int((inner.groupby("group")["label"].nunique() > 1).sum()),
            }
        for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
            ga = set(df.loc[df["split"] == a, "group"])
            gb = set(df.loc[df["split"] == b, "group"])
            both = ga & gb
            part = df[df["group"].isin(both) & df["split"].isin((a, b))]
            rows[f"{a}-{b}"] = {
                "groups": len(both),
                "images": int(((df["split"] == b) & df["group"].isin(both)).sum()),
                "conflicting_labels": int((part.groupby("group")["label"].nunique() > 1).sum()),
            }
        return pd.DataFrame.from_dict(rows, orient="index")

    def groups(self, n: int | None = None, across_splits: bool | None = None) -> list["pd.DataFrame"]:
        """The duplicate groups, largest first; optionally only those spanning several splits (or only one)."""
        df = self.images
        nsplits = df.groupby("group")["split"].nunique()
        keep = nsplits.index if across_splits is None else nsplits.index[(nsplits > 1) == across_splits]
        sizes = df[df["group"].isin(keep)].groupby("group").size().sort_values(ascending=False, kind="stable")
        ids = list(sizes.index[:n] if n is not None else sizes.index)
        return [df[df["group"] == g] for g in ids]

    def leaked_indices(self, split: str, into: str = "train") -> np.ndarray:
        """Indices of images in ``split`` whose exact copy also sits in ``into``.

        Drop them to get a leak-free evaluation set, e.g. ``dups.leaked_indices("test")``.
        """
        df = self.images
        shared = set(df.loc[df["split"] == into, "group"])
        hit = df[(df["split"] == split) & df["group"].isin(shared)]
        return np.unique(hit["index"].to_numpy(dtype=np.int64))

    def __len__(self) -> int:
        return int(self.images["group"].nunique()) if len(self.images) else 0


def find_duplicates(fer: FER2013) -> Duplicates:
    """Find exact-duplicate images within and across the splits (identical pixel bytes).

    >>> a, b = np.zeros((48, 48), np.uint8), np.full((48, 48), 7, np.uint8)
    >>> tr = Split(np.stack([a, a, b]), np.array([0, 0, 3]))
    >>> te = Split(np.stack([b]), np.array([4]))
    >>> dup = find_duplicates(FER2013(tr, Split(tr.images[:0], tr.labels[:0]), te))
    >>> dup.summary().loc[["within train", "train-test"], ["groups", "images", "conflicting_labels"]]
                  groups  images  conflicting_labels
    within train       1       1                   0
    train-test         1       1                   1
    """
    import pandas as pd

    records = []
    for name, sp in fer.splits().items():
        flat = np.ascontiguousarray(sp.images).reshape(len(sp), int(np.prod(sp.images.shape[1:])))
        for i in range(len(sp)):
            records.append((hashlib.blake2b(flat[i].tobytes(), digest_size=16).hexdigest(), name, i, int(sp.labels[i])))
    df = pd.DataFrame(records, columns=["hash", "split", "index", "label"])
    counts = df["hash"].map(df["hash"].value_counts())
    df = df[counts >= 2].copy()
    df["group"] = pd.factorize(df["hash"])[0]
    df["class_name"] = [fer.class_names[k] for k in df["label"]]
    df = df[["group", "split", "index", "label", "class_name", "hash"]].reset_index(drop=True)
    return Duplicates(df, {name: len(sp) for name, sp in fer.splits().items()})
