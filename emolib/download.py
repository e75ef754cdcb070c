"""Get FER2013 from Kaggle in one explicit command, and check that it is complete.

``python -m emolib download`` calls :func:`download_fer2013`: it fetches the Kaggle
dataset ``msambare/fer2013`` with ``kagglehub`` into ``data/fer2013`` (or
``$EMOLIB_DATA``), then :func:`check_fer2013` counts the images of every split and
class against the published counts. Nothing in emolib ever downloads on its own.

Kaggle needs your API token: kaggle.com -> Settings -> API -> Create New Token saves
``kaggle.json``; put it in ``~/.kaggle/`` (Windows: ``C:\\Users\\<you>\\.kaggle\\``),
or set ``KAGGLE_USERNAME`` and ``KAGGLE_KEY``, or run ``kagglehub.login()``.

>>> check_fer2013("no-such-folder")
['no-such-folder has no train/ folder', 'no-such-folder has no test/ folder']
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Callable

from .data import CLASS_NAMES, IMAGE_EXTENSIONS, data_home

DATASET = "msambare/fer2013"
DATASET_URL = f"https://www.kaggle.com/datasets/{DATASET}"

#: Images per split and class in the Kaggle layout: ``train/<class>/Training_*.jpg``,
#: ``test/<class>/PublicTest_*.jpg`` and ``test/<class>/PrivateTest_*.jpg`` (the published
#: FER2013 splits; totals 28,709 / 3,589 / 3,589).
EXPECTED: dict[str, dict[str, int]] = {
    "Training": {"angry": 3995, "disgust": 436, "fear": 4097, "happy": 7215, "sad": 4830,
                 "surprise": 3171, "neutral": 4965},
    "PublicTest": {"angry": 467, "disgust": 56, "fear": 496, "happy": 895, "sad": 653,
                   "surprise": 415, "neutral": 607},
    "PrivateTest": {"angry": 491, "disgust": 55, "fear": 528, "happy": 879, "sad": 594,
                    "surprise": 416, "neutral": 626},
}
#: The top folder of each split in the Kaggle layout.
FOLDER = {"Training": "train", "PublicTest": "test", "PrivateTest": "test"}

HOW_TO_AUTHENTICATE = (
    "Kaggle needs your API token: on kaggle.com open Settings -> API -> Create New Token; "
    "save the kaggle.json it gives you in ~/.kaggle/ (Windows: C:\\Users\\<you>\\.kaggle\\), "
    "or set the environment variables KAGGLE_USERNAME and KAGGLE_KEY, "
    "or run  python -c \"import kagglehub; kagglehub.login()\"  once. Then run this command again."
)
BY_HAND = (
    f"Or download it by hand from {DATASET_URL} (Download button), unzip it and put the folder "
    "holding train/ and test/ in data/fer2013, or point EMOLIB_DATA at it."
)


class DownloadError(RuntimeError):
    """The dataset could not be fetched or is incomplete; the message says why and what to do."""


def default_destination() -> Path:
    """Where the course looks for FER2013 first: ``$EMOLIB_DATA`` if set, else ``fer2013`` in
    :func:`emolib.data.data_home` (``data/fer2013`` in the course's checkout)."""
    if os.environ.get("EMOLIB_DATA"):
        return Path(os.environ["EMOLIB_DATA"]).expanduser()
    return data_home() / "fer2013"


def count_images(root: str | os.PathLike) -> dict[str, dict[str, int]]:
    """Images per split and class in a Kaggle-layout folder (missing folders count 0).

    >>> count_images("/no/such/folder")["PublicTest"]["happy"]
    0
    """
    root = Path(root)
    counts = {split: dict.fromkeys(CLASS_NAMES, 0) for split in EXPECTED}
    for split, top in FOLDER.items():
        for cls in CLASS_NAMES:
            folder = root / top / cls
            if folder.is_dir():
                counts[split][cls] = sum(1 for f in folder.iterdir() if f.name.startswith(f"{split}_")
                                         and f.suffix.lower() in IMAGE_EXTENSIONS)
    return counts


def check_fer2013(root: str | os.PathLike, expected: dict[str, dict[str, int]] | None = None) -> list[str]:
    """What is wrong with the FER2013 folder ``root``, one line per problem (empty: complete).

    Compares the images of every split and class with ``expected`` (default :data:`EXPECTED`)
    and names unknown class folders.
    """
    expected = EXPECTED if expected is None else expected
    root = Path(root)
    problems = [f"{root} has no {top}/ folder" for top in ("train", "test") if not (root / top).is_dir()]
    if problems:
        return problems
    for top in ("train", "test"):
        unknown = sorted(p.name for p in (root / top).iterdir() if p.is_dir() and p.name not in CLASS_NAMES)
        if unknown:
            problems.append(f"{root / top} has folders that are not FER2013 classes: {unknown} "
                            f"(expected {list(CLASS_NAMES)})")
    counts = count_images(root)
    for split, classes in expected.items():
        for cls, want in classes.items():
            have = counts[split][cls]
            if have != want:
                where = Path(FOLDER[split]) / cls
                what = f"{want - have} missing" if have < want else f"{have - want} more than published"
                problems.append(f"{where}: {have} {split} images, expected {want} ({what})")
    return problems


def summary(root: str | os.PathLike) -> str:
    """One line: the images per split in ``root``."""
    counts = count_images(root)
    return ", ".join(f"{sum(c.values()):,} {split}" for split, c in counts.items()) + f" images in {root}"


def _find_layout(folder: Path) -> Path | None:
    """The folder holding train/ and test/: ``folder`` itself or one to two levels below."""
    for candidate in [folder, *sorted(folder.glob("*")), *sorted(folder.glob("*/*"))]:
        if (candidate / "train").is_dir() and (candidate / "test").is_dir():
            return candidate
    return None


def _fetch(staging: Path) -> Path:
    """Call kagglehub, turning its failures into a :class:`DownloadError` that says what to do."""
    try:
        import kagglehub
        from kagglehub import exceptions as kex
    except ImportError as err:
        raise DownloadError(f"the download needs kagglehub ({err}); install the course's requirements: "
                            "python -m pip install -r requirements.txt. " + BY_HAND) from err
    import requests

    try:
        return Path(kagglehub.dataset_download(DATASET, output_dir=str(staging)))
    except (kex.UnauthenticatedError, kex.CredentialError) as err:
        raise DownloadError(f"Kaggle did not accept the request without credentials ({err}). "
                            + HOW_TO_AUTHENTICATE) from err
    except kex.NotFoundError as err:
        raise DownloadError(f"Kaggle has no dataset {DATASET} ({err}); check {DATASET_URL}. " + BY_HAND) from err
    except requests.exceptions.HTTPError as err:  # kagglehub's KaggleApiHTTPError among them
        status = getattr(getattr(err, "response", None), "status_code", None)
        if status in (401, 403):
            raise DownloadError(f"Kaggle refused the download (HTTP {status}): your Kaggle token is missing, "
                                f"wrong or expired. " + HOW_TO_AUTHENTICATE) from err
        if status == 404:
            raise DownloadError(f"Kaggle has no dataset {DATASET} (HTTP 404); check {DATASET_URL}. "
                                + BY_HAND) from err
        raise DownloadError(f"Kaggle answered with an error: {err}. " + BY_HAND) from err
    except requests.exceptions.RequestException as err:
        raise DownloadError(f"cannot reach Kaggle ({type(err).__name__}): check your internet connection "
                            f"(and proxy), then run this command again. " + BY_HAND) from err


def download_fer2013(
    dest: str | os.PathLike | None = None,
    *,
    force: bool = False,
    log: Callable[[str], None] = print,
) -> Path:
    """Download ``msambare/fer2013`` from Kaggle into ``dest`` and check it; return ``dest``.

    ``dest`` defaults to :func:`default_destination`. A folder that already holds the
    complete dataset is kept as it is unless ``force``. Raises :class:`DownloadError`
    with what to do when there is no Kaggle token, no network, or the download does
    not have the expected layout or counts.

    >>> download_fer2013()  # doctest: +SKIP
    Downloading the Kaggle dataset msambare/fer2013 into data/fer2013 ...
    FER2013 is complete: 28,709 Training, 3,589 PublicTest, 3,589 PrivateTest images in data/fer2013
    """
    dest = Path(dest).expanduser() if dest is not None else default_destination()
    if dest.exists() and not force:
        problems = check_fer2013(dest)
        if not problems:
            log(f"FER2013 is already complete: {summary(dest)} (nothing downloaded; --force fetches it again)")
            return dest
        if any(dest.iterdir()):
            raise DownloadError(f"{dest} already exists but is not a complete FER2013:\n  " + "\n  ".join(problems)
                                + f"\nMove it away (or delete it), or run again with --force to replace it.")
    staging = dest.with_name(dest.name + ".download")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    log(f"Downloading the Kaggle dataset {DATASET} into {dest} ...")
    try:
        fetched = _fetch(staging)
        root = _find_layout(fetched) if fetched.is_dir() else None
        if root is None:
            found = sorted(p.name for p in fetched.iterdir()) if fetched.is_dir() else [fetched.name]
            raise DownloadError(f"the download ({fetched}) does not have the layout of {DATASET} "
                                f"(train/<class>/ and test/<class>/ folders); it holds {found[:10]}. " + BY_HAND)
        problems = check_fer2013(root)
        if problems:
            raise DownloadError(f"the download ({root}) is incomplete or not FER2013:\n  " + "\n  ".join(problems)
                                + "\nRun the command again with --force; if it persists, " + BY_HAND[3:])
        if dest.exists():
            shutil.rmtree(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        if root == staging or staging in root.parents:
            shutil.move(str(root), str(dest))
        else:  # kagglehub answered with a folder of its own (its cache): copy it
            shutil.copytree(root, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log(f"FER2013 is complete: {summary(dest)}")
    return dest
