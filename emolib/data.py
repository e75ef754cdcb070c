"""Load FER2013 in the forms people actually have.

Three sources are understood:

* the Kaggle folder layout (``train/<class>/*.jpg``, ``test/<class>/*.jpg``),
* the original ``fer2013.csv`` (``emotion,pixels,Usage``) and its
  ``icml_face_data.csv`` variant,
* either of the above inside a downloaded ``.zip`` archive.

The result is cached as a compressed ``.npz`` file under ``data/`` so that the
second load takes about a second.

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
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np
from PIL import Image, UnidentifiedImageError
from tqdm.auto import tqdm

CLASS_NAMES: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
IMAGE_SIZE = 48
SPLITS = ("train", "val", "test")
#: FER2013 ``Usage`` value (and Kaggle file-name prefix) of each split.
USAGE = {"train": "Training", "val": "PublicTest", "test": "PrivateTest"}
CACHE_VERSION = 1
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")
REPO_DATA_DIR = Path(__file__).resolve().parent.parent / "data"

HOW_TO_GET = (
    "Download FER2013 yourself, e.g. the Kaggle dataset 'msambare/fer2013' (folders) "
    "or the original challenge file 'fer2013.csv', and put it in data/fer2013 "
    "(or point the EMOLIB_DATA environment variable or the root argument at it). "
    "See README.md, section 'Getting the data'."
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
    """Places searched for the data, in order: argument, ``EMOLIB_DATA``, ``data/fer2013``."""
    if root is not None:
        return [Path(root).expanduser()]
    places = []
    if os.environ.get("EMOLIB_DATA"):
        places.append(Path(os.environ["EMOLIB_DATA"]).expanduser())
    places.append(REPO_DATA_DIR / "fer2013")
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

    >>> find_data("/no/such/place")
    Traceback (most recent call last):
    ...
    emolib.data.DataError: FER2013 not found. Places tried: /no/such/place ...
    """
    tried = candidate_roots(root)
    for place in tried:
        if _looks_like_data(place):
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

    def __call__(self, data: bytes, name: str) -> np.ndarray:
        try:
            with Image.open(io.BytesIO(data)) as im:
                im.load()
                if im.mode != "L" or im.size != (IMAGE_SIZE, IMAGE_SIZE):
                    self.converted += 1
                    im = im.convert("L")
                    if im.size != (IMAGE_SIZE, IMAGE_SIZE):
                        im = im.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BILINEAR)
                return np.asarray(im, dtype=np.uint8)
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as err:
            raise DataError(f"cannot read image {name}: {err}") from None


def _split_of_name(filename: str) -> str | None:
    for split, usage in USAGE.items():
        if filename.startswith(usage + "_"):
            return split
    return None


def _stratified_halves(labels: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Split indices into two stratified halves (val, test) with a fixed seed."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(labels))
    val, test = train_test_split(idx, test_size=0.5, stratify=labels, random_state=seed)
    return np.sort(val), np.sort(test)


def _assemble(entries: list[tuple[str, str, str]], read, progress: bool, what: str) -> dict[str, Split]:
    """entries: (top folder 'train'|'test', class name, file name) -> splits."""
    conv = _Converter()
    names = {c: i for i, c in enumerate(CLASS_NAMES)}
    buckets: dict[str, tuple[list, list]] = {"train": ([], []), "test": ([], []), "_unprefixed": ([], [])}
    for top, cls, fname in tqdm(entries, desc=f"Reading {what}", unit="img", disable=not progress):
        label = names[cls]
        split = _split_of_name(fname)
        key = split if split is not None else ("train" if top == "train" else "_unprefixed")
        if key == "train" and top == "test":
            raise DataError(f"{top}/{cls}/{fname}: a Training_ image inside test/")
        imgs, labs = buckets.setdefault(key, ([], []))
        imgs.append(conv(read(top, cls, fname), f"{top}/{cls}/{fname}"))
        labs.append(label)
    if conv.converted:
        warnings.warn(f"{conv.converted} images were not 48x48 grayscale and were converted", stacklevel=3)

    def stack(key):
        imgs, labs = buckets.get(key, ([], []))
        if not imgs:
            return np.zeros((0, IMAGE_SIZE, IMAGE_SIZE), np.uint8), np.zeros((0,), np.int64)
        return np.stack(imgs), np.asarray(labs, np.int64)

    out = {s: Split(*stack(s)) for s in SPLITS}
    rest_x, rest_y = stack("_unprefixed")
    if len(rest_y):
        if len(out["val"]) or len(out["test"]):
            raise DataError("test/ mixes PublicTest_/PrivateTest_ file names with unprefixed ones")
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
                d.name: [f.name for f in os.scandir(d) if f.is_file() and f.name.lower().endswith(IMAGE_EXTENSIONS)]
                for d in os.scandir(root / top)
                if d.is_dir()
            }
    entries = _folder_entries(listing, str(root))
    return _assemble(entries, lambda t, c, f: (root / t / c / f).read_bytes(), progress, str(root))


# --------------------------------------------------------------------------- csv
def _parse_csv(lines: Iterable[str], where: str, progress: bool) -> dict[str, Split]:
    reader = csv.reader(lines)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise DataError(f"{where}: the CSV file is empty") from None
    need = {"emotion", "pixels", "Usage"}
    if not need <= set(header):
        raise DataError(f"{where}: expected columns {sorted(need)}, found {header}")
    ie, ip, iu = header.index("emotion"), header.index("pixels"), header.index("Usage")
    usage_to_split = {v: k for k, v in USAGE.items()}
    data: dict[str, tuple[list, list]] = {s: ([], []) for s in SPLITS}
    for lineno, row in enumerate(tqdm(reader, desc=f"Reading {where}", unit="row", disable=not progress), start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(header):
            raise DataError(f"{where}, line {lineno}: expected {len(header)} fields, found {len(row)}")
        usage = row[iu].strip()
        if usage not in usage_to_split:
            raise DataError(f"{where}, line {lineno}: unknown Usage {usage!r}; expected one of {list(USAGE.values())}")
        try:
            label = int(row[ie])
        except ValueError:
            raise DataError(f"{where}, line {lineno}: emotion {row[ie]!r} is not an integer") from None
        if not 0 <= label < len(CLASS_NAMES):
            raise DataError(f"{where}, line {lineno}: unknown label {label}; expected 0..{len(CLASS_NAMES) - 1}")
        try:
            pix = np.array(row[ip].split(), dtype=np.int64)
        except ValueError:
            raise DataError(f"{where}, line {lineno}: the pixel string holds something that is not an integer") from None
        if pix.size != IMAGE_SIZE * IMAGE_SIZE:
            raise DataError(f"{where}, line {lineno}: {pix.size} pixels, expected {IMAGE_SIZE * IMAGE_SIZE} (48x48)")
        if pix.min() < 0 or pix.max() > 255:
            raise DataError(f"{where}, line {lineno}: pixel values must lie in 0..255")
        imgs, labs = data[usage_to_split[usage]]
        imgs.append(pix.astype(np.uint8).reshape(IMAGE_SIZE, IMAGE_SIZE))
        labs.append(label)
    out = {}
    for s, (imgs, labs) in data.items():
        x = np.stack(imgs) if imgs else np.zeros((0, IMAGE_SIZE, IMAGE_SIZE), np.uint8)
        out[s] = Split(x, np.asarray(labs, np.int64))
    if not any(len(v) for v in out.values()):
        raise DataError(f"{where}: the CSV file holds no images")
    return out


def _read_csv(path: Path, progress: bool) -> dict[str, Split]:
    with open(path, newline="", encoding="utf-8") as fh:
        return _parse_csv(fh, str(path), progress)


# --------------------------------------------------------------------------- zip
def _read_zip(path: Path, progress: bool) -> dict[str, Split]:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as err:
        raise DataError(f"{path}: not a readable zip archive ({err})") from None
    with zf:
        names = [n for n in zf.namelist() if not n.endswith("/") and "__MACOSX" not in n]
        csvs = [n for n in names if n.lower().endswith(".csv")]
        listing: dict[str, dict[str, list[str]]] = {}
        where: dict[tuple[str, str, str], str] = {}
        for n in names:
            parts = n.split("/")
            if len(parts) >= 3 and parts[-3] in ("train", "test") and n.lower().endswith(IMAGE_EXTENSIONS):
                top, cls, fname = parts[-3:]
                listing.setdefault(top, {}).setdefault(cls, []).append(fname)
                where[(top, cls, fname)] = n
        if listing:
            entries = _folder_entries(listing, str(path))
            return _assemble(entries, lambda t, c, f: zf.read(where[(t, c, f)]), progress, str(path))
        if csvs:
            pick = next((n for n in csvs if n.endswith("fer2013.csv")), csvs[0])
            with zf.open(pick) as raw:
                return _parse_csv(io.TextIOWrapper(raw, encoding="utf-8", newline=""), f"{path}:{pick}", progress)
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


def default_cache_dir() -> Path:
    """``EMOLIB_CACHE`` if set, else the repo's ``data/`` folder (git-ignored)."""
    return Path(os.environ.get("EMOLIB_CACHE", REPO_DATA_DIR))


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
    one of those. Never downloads anything.

    >>> fer = load_fer2013()                        # doctest: +SKIP
    >>> len(fer.train), len(fer.val), len(fer.test)  # doctest: +SKIP
    (28709, 3589, 3589)
    """
    source = _resolve_source(find_data(root))
    cache_file = None
    if cache:
        cdir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        cache_file = cdir / f"fer2013-cache-{_signature(source)}.npz"
        if cache_file.is_file():
            try:
                with np.load(cache_file) as z:
                    splits = {s: Split(z[f"{s}_x"], z[f"{s}_y"]) for s in SPLITS}
                return FER2013(**splits, source=str(source))
            except Exception:  # a damaged cache is rebuilt, never trusted
                cache_file.unlink(missing_ok=True)
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
            tmp = cache_file.with_suffix(".tmp.npz")
            arrays = {f"{s}_{k}": getattr(splits[s], a) for s in SPLITS for k, a in (("x", "images"), ("y", "labels"))}
            np.savez_compressed(tmp, source=np.array(str(source.resolve())), **arrays)
            os.replace(tmp, cache_file)
        except OSError as err:
            warnings.warn(f"could not write the cache {cache_file}: {err}", stacklevel=2)
    return FER2013(**splits, source=str(source))


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
