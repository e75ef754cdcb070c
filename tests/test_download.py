"""``python -m emolib download``: Kaggle's download replaced by a stub (no network reaches
Kaggle here), its error paths, and the check on the real FER2013."""
from __future__ import annotations

from pathlib import Path

import kagglehub
import numpy as np
import pytest
import requests
from kagglehub import exceptions as kex
from PIL import Image

from emolib import download
from emolib.__main__ import main
from emolib.data import CLASS_NAMES, data_home, find_data

ROOT = Path(__file__).resolve().parent.parent

#: A miniature FER2013: images per split and class (disgust has no PrivateTest image, as can happen).
SMALL = {split: {cls: 2 for cls in CLASS_NAMES} for split in download.EXPECTED}
SMALL["PrivateTest"]["disgust"] = 0


def make_kaggle_folder(root: Path, counts: dict[str, dict[str, int]] = SMALL) -> Path:
    """Write a Kaggle-layout folder with ``counts`` 48x48 JPEGs; return it."""
    rng = np.random.default_rng(0)
    for split, classes in counts.items():
        for cls, n in classes.items():
            folder = root / download.FOLDER[split] / cls
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                Image.fromarray(rng.integers(0, 255, (48, 48), dtype=np.uint8)).save(folder / f"{split}_{i}.jpg")
    return root


@pytest.fixture
def small_expected(monkeypatch):
    monkeypatch.setattr(download, "EXPECTED", SMALL)


def stub_download(monkeypatch, result=None, error: Exception | None = None) -> list:
    """Replace kagglehub.dataset_download; the stub records its calls and returns ``result(output_dir)``."""
    calls = []

    def fake(handle, path=None, *, force_download=False, output_dir=None):
        calls.append((handle, output_dir))
        if error is not None:
            raise error
        return str(result(Path(output_dir)))

    monkeypatch.setattr(kagglehub, "dataset_download", fake)
    return calls


# --------------------------------------------------------------------------- the command, stubbed
def test_download_into_output_dir(tmp_path, monkeypatch, small_expected, capsys):
    calls = stub_download(monkeypatch, result=make_kaggle_folder)  # kagglehub writes into output_dir
    dest = tmp_path / "data" / "fer2013"
    assert main(["download", "--to", str(dest)]) == 0
    assert calls == [("msambare/fer2013", str(tmp_path / "data" / "fer2013.download"))]
    assert download.check_fer2013(dest) == []
    assert not (tmp_path / "data" / "fer2013.download").exists()
    out = capsys.readouterr().out
    assert "Downloading the Kaggle dataset msambare/fer2013" in out
    assert "FER2013 is complete: 14 Training, 14 PublicTest, 12 PrivateTest images" in out
    # the loader reads what was downloaded
    from emolib.data import load_fer2013

    fer = load_fer2013(dest, cache=False, progress=False)
    assert (len(fer.train), len(fer.val), len(fer.test)) == (14, 14, 12)
    # a second run keeps it and downloads nothing
    assert main(["download", "--to", str(dest)]) == 0
    assert len(calls) == 1 and "already complete" in capsys.readouterr().out


def test_download_from_kagglehub_cache_nested(tmp_path, monkeypatch, small_expected):
    """kagglehub may answer with a folder of its own, the data one level down: it is copied."""
    cache = make_kaggle_folder(tmp_path / "cache" / "versions" / "1" / "fer2013")
    stub_download(monkeypatch, result=lambda _: cache.parent)
    dest = tmp_path / "fer2013"
    assert download.download_fer2013(dest, log=lambda _: None) == dest
    assert download.check_fer2013(dest) == [] and download.check_fer2013(cache) == []


def test_default_destination(monkeypatch, tmp_path):
    monkeypatch.delenv("EMOLIB_DATA", raising=False)
    assert download.default_destination() == download.data_home() / "fer2013" == ROOT / "data" / "fer2013"
    monkeypatch.setenv("EMOLIB_DATA", str(tmp_path))
    assert download.default_destination() == tmp_path


def test_an_installed_package_keeps_data_in_the_user_folder(monkeypatch, tmp_path):
    """Outside a checkout (no pyproject.toml above the package, as in site-packages) FER2013 goes to the user's data
    folder, never next to the installed package."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    (tmp_path / "site-packages" / "emolib").mkdir(parents=True)
    assert data_home(tmp_path / "site-packages" / "emolib") == tmp_path / "share" / "emolib"
    assert data_home(ROOT / "emolib") == ROOT / "data"


# --------------------------------------------------------------------------- error paths
@pytest.mark.parametrize("error, words", [
    (kex.UnauthenticatedError(), ["Create New Token", "kaggle.json", "KAGGLE_USERNAME", "kagglehub.login()"]),
    (kex.KaggleApiHTTPError("401 Client Error", response=type("R", (), {"status_code": 401})()),
     ["HTTP 401", "Create New Token"]),
    (kex.KaggleApiHTTPError("404 Client Error", response=type("R", (), {"status_code": 404})()),
     ["no dataset msambare/fer2013", "by hand"]),
    (requests.exceptions.ConnectionError("Failed to resolve 'api.kaggle.com'"),
     ["cannot reach Kaggle", "internet connection", "by hand"]),
])
def test_download_errors(tmp_path, monkeypatch, capsys, error, words):
    stub_download(monkeypatch, error=error)
    dest = tmp_path / "fer2013"
    assert main(["download", "--to", str(dest)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    for word in words:
        assert word in err
    assert not dest.exists() and not (tmp_path / "fer2013.download").exists()


def test_download_with_another_layout(tmp_path, monkeypatch, capsys):
    def other(out: Path) -> Path:
        (out / "fer2013.csv").write_text("emotion,pixels,Usage\n")
        return out

    stub_download(monkeypatch, result=other)
    assert main(["download", "--to", str(tmp_path / "fer2013")]) == 1
    err = capsys.readouterr().err
    assert "does not have the layout of msambare/fer2013" in err and "fer2013.csv" in err


def test_download_incomplete(tmp_path, monkeypatch, small_expected, capsys):
    short = {s: dict(c) for s, c in SMALL.items()}
    short["PublicTest"]["fear"] = 1
    stub_download(monkeypatch, result=lambda out: make_kaggle_folder(out, short))
    dest = tmp_path / "fer2013"
    assert main(["download", "--to", str(dest)]) == 1
    err = capsys.readouterr().err
    assert "test/fear: 1 PublicTest images, expected 2 (1 missing)" in err.replace("\\", "/")
    assert not dest.exists()


def test_existing_incomplete_folder_is_not_replaced(tmp_path, monkeypatch, small_expected, capsys):
    calls = stub_download(monkeypatch, result=make_kaggle_folder)
    dest = tmp_path / "fer2013"
    (dest / "train").mkdir(parents=True)
    assert main(["download", "--to", str(dest)]) == 1
    assert calls == [] and "--force" in capsys.readouterr().err
    assert main(["download", "--to", str(dest), "--force"]) == 0
    assert download.check_fer2013(dest) == []


def test_check_names_what_is_wrong(tmp_path, small_expected, capsys):
    root = make_kaggle_folder(tmp_path / "fer")
    (root / "train" / "contempt").mkdir()
    next((root / "test" / "sad").glob("PrivateTest_*")).unlink()
    assert main(["download", "--check", "--to", str(root)]) == 1
    err = capsys.readouterr().err.replace("\\", "/")
    assert "not FER2013 classes: ['contempt']" in err
    assert "test/sad: 1 PrivateTest images, expected 2 (1 missing)" in err


# --------------------------------------------------------------------------- the real data
def test_real_fer2013_is_complete(real_data):
    """The real Kaggle folder (``$EMOLIB_DATA`` or data/fer2013) has every published image."""
    root = find_data()
    if not (root / "train").is_dir():
        pytest.skip(f"the real FER2013 at {root} is not in the Kaggle folder layout")
    assert download.check_fer2013(root) == []
    counts = download.count_images(root)
    for split, labels in (("Training", real_data.train.labels), ("PublicTest", real_data.val.labels),
                          ("PrivateTest", real_data.test.labels)):
        assert [counts[split][c] for c in CLASS_NAMES] == np.bincount(labels, minlength=7).tolist()
