"""emolib.data: every source layout, every bad input, search order, cache, duplicates.

All datasets here are tiny fakes built in tmp dirs; only ``test_real_*`` touch
the real FER2013 (through the ``real_data`` fixture).
"""
from __future__ import annotations

import os
import re
import sys
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from emolib import data
from emolib.data import CLASS_NAMES, IMAGE_SIZE, DataError, find_data, find_duplicates, load_fer2013

N_PIX = IMAGE_SIZE * IMAGE_SIZE


def face(seed: int) -> np.ndarray:
    """A distinct, deterministic 48x48 uint8 image."""
    return np.random.default_rng(seed).integers(0, 256, (IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)


# ---------------------------------------------------------------- builders
def make_folders(root: Path, per_class=(2, 1, 1), prefixes: bool = True, fmt: str = "png") -> Path:
    """Kaggle layout; per_class = (train, PublicTest, PrivateTest) images per class.

    Without prefixes test/ holds (PublicTest + PrivateTest) unprefixed images per class.
    PNG keeps pixels exact (the real data is JPEG; decoding is the same code path).
    """
    n_tr, n_pub, n_priv = per_class
    seed = 0
    for k, cls in enumerate(CLASS_NAMES):
        for top, prefix, n in (("train", "Training", n_tr), ("test", "PublicTest", n_pub), ("test", "PrivateTest", n_priv)):
            d = root / top / cls
            d.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                seed += 1
                name = f"{prefix}_{seed}.{fmt}" if prefixes else f"im{seed}.{fmt}"
                Image.fromarray(face(seed)).save(d / name)
    return root


def csv_rows(per_split=(2, 1, 1)) -> list[tuple[int, str, str]]:
    rows, seed = [], 0
    for usage, n in zip(("Training", "PublicTest", "PrivateTest"), per_split):
        for k in range(len(CLASS_NAMES)):
            for _ in range(n):
                seed += 1
                rows.append((k, " ".join(map(str, face(seed).ravel())), usage))
    return rows


def write_fer_csv(path: Path, rows=None) -> Path:
    rows = csv_rows() if rows is None else rows
    lines = ["emotion,pixels,Usage"] + [f"{e},{p},{u}" for e, p, u in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def write_icml_csv(path: Path, rows=None) -> Path:
    """icml_face_data.csv: columns 'emotion', ' Usage', ' pixels' (leading spaces)."""
    rows = csv_rows() if rows is None else rows
    lines = ["emotion, Usage, pixels"] + [f"{e},{u},{p}" for e, p, u in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def zip_tree(src: Path, dest: Path, under: str = "") -> Path:
    with zipfile.ZipFile(dest, "w") as zf:
        for f in sorted(src.rglob("*")):
            if f.is_file():
                zf.write(f, under + f.relative_to(src).as_posix())
    return dest


def load(root, tmp_path, **kw):
    kw.setdefault("cache_dir", tmp_path / "cache")
    kw.setdefault("progress", False)
    return load_fer2013(root, **kw)


def assert_sizes(fer, train, val, test):
    assert (len(fer.train), len(fer.val), len(fer.test)) == (train, val, test)
    for sp in fer.splits().values():
        assert sp.images.dtype == np.uint8 and sp.images.shape[1:] == (48, 48)
        assert sp.labels.dtype == np.int64


@pytest.fixture
def no_default_places(monkeypatch, tmp_path):
    """Isolate from the real data: no EMOLIB_DATA, repo data dir is an empty tmp dir."""
    monkeypatch.delenv("EMOLIB_DATA", raising=False)
    monkeypatch.setattr(data, "REPO_DATA_DIR", tmp_path / "repo_data")
    monkeypatch.setattr(data, "data_home", lambda package_dir=None: tmp_path / "repo_data")
    monkeypatch.setenv("EMOLIB_CACHE", str(tmp_path / "cache"))


# ---------------------------------------------------------------- layouts
def test_kaggle_folders_with_prefixes(tmp_path):
    root = make_folders(tmp_path / "fer", per_class=(2, 1, 1))
    fer = load(root, tmp_path)
    assert_sizes(fer, 14, 7, 7)
    assert fer.train.class_counts().tolist() == [2] * 7
    assert fer.class_names == CLASS_NAMES
    # pixels survive exactly (PNG), labels follow the folder names
    first = sorted((root / "train" / "angry").iterdir())[0]
    assert any(np.array_equal(np.asarray(Image.open(first)), im) for im in fer.train.images[fer.train.labels == 0])


def test_folders_without_prefixes_give_seeded_stratified_halves(tmp_path):
    root = make_folders(tmp_path / "fer", per_class=(2, 2, 2), prefixes=False)
    a, b = load(root, tmp_path, cache=False), load(root, tmp_path, cache=False)
    assert_sizes(a, 14, 14, 14)
    assert a.val.class_counts().tolist() == [2] * 7 and a.test.class_counts().tolist() == [2] * 7
    assert np.array_equal(a.val.images, b.val.images)  # same seed, same split
    joined = {im.tobytes() for im in np.concatenate([a.val.images, a.test.images])}
    assert len(joined) == 28  # a partition: nothing lost, nothing doubled


def test_unprefixed_split_tolerates_a_class_with_one_image(tmp_path):
    root = make_folders(tmp_path / "fer", per_class=(1, 0, 1), prefixes=False)
    fer = load(root, tmp_path, cache=False)
    assert len(fer.val) + len(fer.test) == 7 and abs(len(fer.val) - len(fer.test)) == 1


def test_fer2013_csv(tmp_path):
    path = write_fer_csv(tmp_path / "fer2013.csv")
    fer = load(path, tmp_path)
    assert_sizes(fer, 14, 7, 7)
    assert np.array_equal(fer.train.images[0], face(1)) and fer.train.labels[0] == 0
    assert np.array_equal(fer.test.labels, np.arange(7))


def test_icml_csv_with_leading_space_headers(tmp_path):
    write_icml_csv(tmp_path / "icml_face_data.csv")
    fer = load(tmp_path, tmp_path)  # a folder holding the csv
    assert_sizes(fer, 14, 7, 7)
    assert np.array_equal(fer.val.images[0], face(15))


def test_csv_with_byte_order_mark(tmp_path):
    path = write_fer_csv(tmp_path / "fer2013.csv")
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert_sizes(load(path, tmp_path), 14, 7, 7)


def test_zip_of_folders(tmp_path):
    src = make_folders(tmp_path / "src")
    (tmp_path / "dl").mkdir()
    z = zip_tree(src, tmp_path / "dl" / "archive.zip")
    assert_sizes(load(z, tmp_path), 14, 7, 7)
    assert_sizes(load(tmp_path / "dl", tmp_path, cache=False), 14, 7, 7)  # folder holding the zip


def test_zip_of_folders_inside_a_top_folder(tmp_path):
    z = zip_tree(make_folders(tmp_path / "src"), tmp_path / "a.zip", under="fer2013/")
    assert_sizes(load(z, tmp_path), 14, 7, 7)


def test_zip_of_csv_prefers_fer2013_csv(tmp_path):
    write_fer_csv(tmp_path / "fer2013.csv")
    z = tmp_path / "challenge.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a_example_submission.csv", "id,emotion\n1,0\n")
        zf.write(tmp_path / "fer2013.csv", "fer2013/fer2013.csv")
    assert_sizes(load(z, tmp_path), 14, 7, 7)


def test_hidden_files_and_folders_are_ignored(tmp_path):
    root = make_folders(tmp_path / "fer")
    (root / "train" / ".ipynb_checkpoints").mkdir()
    (root / "train" / "angry" / ".DS_Store").write_bytes(b"\0junk")
    (root / "train" / "angry" / "notes.txt").write_text("not an image")
    assert_sizes(load(root, tmp_path), 14, 7, 7)


def test_non_48x48_rgb_image_is_converted_with_a_warning(tmp_path):
    root = make_folders(tmp_path / "fer")
    Image.new("RGB", (96, 64), (200, 10, 10)).save(root / "train" / "happy" / "Training_big.png")
    with pytest.warns(UserWarning, match=r"1 image\(s\) were not 48x48 grayscale.*Training_big.png \(RGB, 96x64\)"):
        fer = load(root, tmp_path)
    assert_sizes(fer, 15, 7, 7)


def test_no_warning_for_clean_data(tmp_path):
    root = make_folders(tmp_path / "fer")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load(root, tmp_path)


# ---------------------------------------------------------------- bad inputs
def expect_error(root, tmp_path, *patterns):
    with pytest.raises(DataError) as info:
        load(root, tmp_path, cache=False)
    msg = str(info.value)
    for p in patterns:
        assert p in msg, f"{p!r} not in {msg!r}"
    err = info.value  # no chained PIL/pandas traceback shown to the user
    assert err.__cause__ is None and (err.__context__ is None or err.__suppress_context__)
    return msg


def test_missing_class_folder(tmp_path):
    root = make_folders(tmp_path / "fer")
    for f in (root / "test" / "disgust").iterdir():
        f.unlink()
    (root / "test" / "disgust").rmdir()
    expect_error(root, tmp_path, "test", "missing", "disgust")


def test_unknown_class_folder(tmp_path):
    root = make_folders(tmp_path / "fer")
    (root / "train" / "contempt").mkdir()
    expect_error(root, tmp_path, "unknown label folder", "contempt")


def test_missing_test_folder(tmp_path):
    root = make_folders(tmp_path / "fer")
    os.rename(root / "test", tmp_path / "elsewhere")
    expect_error(root, tmp_path, "test/ is missing")


def test_no_images_at_all(tmp_path):
    for top in ("train", "test"):
        for c in CLASS_NAMES:
            (tmp_path / "fer" / top / c).mkdir(parents=True)
    expect_error(tmp_path / "fer", tmp_path, "hold no images")


def test_corrupt_image_names_the_file(tmp_path):
    root = make_folders(tmp_path / "fer")
    (root / "train" / "sad" / "Training_broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    expect_error(root, tmp_path, "cannot read image", "train/sad/Training_broken.jpg")


def test_truncated_image_names_the_file(tmp_path):
    root = make_folders(tmp_path / "fer", fmt="jpg")
    victim = sorted((root / "train" / "fear").iterdir())[0]
    victim.write_bytes(victim.read_bytes()[:200])
    expect_error(root, tmp_path, "cannot read image", victim.name)


def test_training_image_inside_test(tmp_path):
    root = make_folders(tmp_path / "fer")
    Image.fromarray(face(999)).save(root / "test" / "sad" / "Training_999.png")
    expect_error(root, tmp_path, "Training_999.png", "inside test/")


@pytest.mark.parametrize(
    "pixels, message",
    [
        ("1 2 3", "3 pixel values, expected 2304"),
        (" ".join(["7"] * (N_PIX + 1)), "2305 pixel values"),
        (" ".join(["7"] * (N_PIX - 1) + ["256"]), "256 is outside 0..255"),
        (" ".join(["7"] * (N_PIX - 1) + ["-1"]), "-1 is outside 0..255"),
        (" ".join(["7"] * (N_PIX - 1) + ["x"]), "'x' is not an integer"),
        (" ".join(["7"] * (N_PIX - 1) + ["1.5"]), "'1.5' is not an integer"),
        ("", "0 pixel values"),
    ],
)
def test_bad_pixel_string_names_the_line(tmp_path, pixels, message):
    rows = csv_rows()
    rows[3] = (rows[3][0], pixels, rows[3][2])
    expect_error(write_fer_csv(tmp_path / "fer2013.csv", rows), tmp_path, "fer2013.csv, line 5", message)


@pytest.mark.parametrize("label, message", [("7", "unknown label 7"), ("-1", "unknown label -1"), ("happy", "'happy'")])
def test_unknown_label_names_the_line(tmp_path, label, message):
    path = write_fer_csv(tmp_path / "fer2013.csv")
    lines = path.read_text().splitlines()
    lines[2] = label + lines[2][1:]
    path.write_text("\n".join(lines))
    expect_error(path, tmp_path, "line 3", message)


def test_unknown_usage(tmp_path):
    rows = csv_rows()
    rows[0] = (rows[0][0], rows[0][1], "Validation")
    expect_error(write_fer_csv(tmp_path / "fer2013.csv", rows), tmp_path, "line 2", "unknown Usage 'Validation'")


def test_wrong_number_of_fields(tmp_path):
    path = write_fer_csv(tmp_path / "fer2013.csv")
    path.write_text(path.read_text() + "3,1 2 3,Training,extra\n")
    expect_error(path, tmp_path, "line 30", "expected 3 fields, found 4")


def test_empty_csv(tmp_path):
    (tmp_path / "fer2013.csv").write_text("")
    expect_error(tmp_path / "fer2013.csv", tmp_path, "fer2013.csv", "empty")


def test_header_only_csv(tmp_path):
    (tmp_path / "fer2013.csv").write_text("emotion,pixels,Usage\n")
    expect_error(tmp_path / "fer2013.csv", tmp_path, "no images")


def test_wrong_columns(tmp_path):
    # Kaggle's train.csv has no Usage column
    (tmp_path / "train.csv").write_text("emotion,pixels\n0," + " ".join(["1"] * N_PIX) + "\n")
    expect_error(tmp_path / "train.csv", tmp_path, "train.csv", "wrong columns", "Usage")


def test_binary_file_named_csv(tmp_path):
    (tmp_path / "fer2013.csv").write_bytes(b"emotion,pixels,Usage\n\xff\xfe\x00\x81garbage")
    expect_error(tmp_path / "fer2013.csv", tmp_path, "fer2013.csv", "not a UTF-8 text file")


def test_nul_bytes_in_csv(tmp_path):
    (tmp_path / "fer2013.csv").write_text("emotion,pixels,Usage\n0,\x001 2,Training\n")
    expect_error(tmp_path / "fer2013.csv", tmp_path, "fer2013.csv", "line")


def test_bad_zip(tmp_path):
    (tmp_path / "archive.zip").write_bytes(b"PK\x03\x04 this is not a zip")
    expect_error(tmp_path / "archive.zip", tmp_path, "archive.zip", "not a readable zip")


def test_zip_with_corrupt_member(tmp_path):
    write_fer_csv(tmp_path / "fer2013.csv")
    z = tmp_path / "a.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(tmp_path / "fer2013.csv", "fer2013.csv")
    raw = bytearray(z.read_bytes())
    mid = len(raw) // 2
    raw[mid : mid + 64] = b"\x00" * 64  # damage the compressed stream
    z.write_bytes(bytes(raw))
    expect_error(z, tmp_path, "a.zip")


def test_zip_without_data(tmp_path):
    z = tmp_path / "a.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("readme.txt", "hello")
    expect_error(z, tmp_path, "a.zip", "neither train/ and test/")


def test_folder_without_data(tmp_path):
    (tmp_path / "fer").mkdir()
    (tmp_path / "fer" / "x.zip").write_bytes(b"")
    expect_error(tmp_path / "fer", tmp_path, "x.zip")


# ---------------------------------------------------------------- where to look
def test_not_found_lists_places_tried(tmp_path, no_default_places):
    with pytest.raises(DataError) as info:
        find_data()
    msg = str(info.value)
    assert str(tmp_path / "repo_data" / "fer2013") in msg
    assert "EMOLIB_DATA is not set" in msg and "python -m emolib download" in msg


def test_not_found_lists_emolib_data_first(tmp_path, no_default_places, monkeypatch):
    monkeypatch.setenv("EMOLIB_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(DataError) as info:
        load_fer2013()
    msg = str(info.value)
    assert msg.index(str(tmp_path / "nowhere")) < msg.index(str(tmp_path / "repo_data" / "fer2013"))


def test_search_order(tmp_path, no_default_places, monkeypatch):
    repo_place = make_folders(tmp_path / "repo_data" / "fer2013")
    assert find_data() == repo_place
    env_place = tmp_path / "env"
    env_place.mkdir()
    write_fer_csv(env_place / "fer2013.csv")
    monkeypatch.setenv("EMOLIB_DATA", str(env_place))
    assert find_data() == env_place  # EMOLIB_DATA beats data/fer2013
    arg = write_icml_csv(tmp_path / "icml_face_data.csv")
    assert find_data(arg) == arg  # the argument beats both
    assert load_fer2013(progress=False).source == str(env_place / "fer2013.csv")
    with pytest.raises(DataError, match="Places tried: .*nope"):
        find_data(tmp_path / "nope")  # an explicit argument is not silently replaced
    monkeypatch.setenv("EMOLIB_DATA", str(tmp_path / "typo"))
    with pytest.warns(UserWarning, match="EMOLIB_DATA=.*typo holds no FER2013; using .*repo_data"):
        assert find_data() == repo_place  # a wrong EMOLIB_DATA falls back, loudly


# ---------------------------------------------------------------- cache
def cache_files(tmp_path):
    return sorted((tmp_path / "cache").glob("fer2013-cache-*.npz"))


def test_cache_hit(tmp_path, monkeypatch):
    root = make_folders(tmp_path / "fer")
    first = load(root, tmp_path)
    assert len(cache_files(tmp_path)) == 1
    monkeypatch.setattr(data, "_read_folders", lambda *a: pytest.fail("cache not used"))
    second = load(root, tmp_path)
    for s in ("train", "val", "test"):
        assert np.array_equal(first.splits()[s].images, second.splits()[s].images)
        assert np.array_equal(first.splits()[s].labels, second.splits()[s].labels)


def test_cache_invalidated_when_a_file_is_added(tmp_path):
    root = make_folders(tmp_path / "fer")
    assert len(load(root, tmp_path).train) == 14
    Image.fromarray(face(500)).save(root / "train" / "sad" / "Training_500.png")
    assert len(load(root, tmp_path).train) == 15
    assert len(cache_files(tmp_path)) == 1  # the stale cache of this source is removed


def test_cache_invalidated_when_a_file_changes(tmp_path):
    root = make_folders(tmp_path / "fer")
    victim = sorted((root / "train" / "angry").iterdir())[0]
    before = load(root, tmp_path)
    Image.fromarray(np.full((48, 48), 3, np.uint8)).save(victim)
    os.utime(victim, ns=(time.time_ns(), time.time_ns() + 10**9))
    after = load(root, tmp_path)
    assert not np.array_equal(before.train.images, after.train.images)
    assert (after.train.images == 3).all(axis=(1, 2)).sum() == 1


def test_cache_invalidated_when_csv_changes(tmp_path):
    path = write_fer_csv(tmp_path / "fer2013.csv")
    assert len(load(path, tmp_path).train) == 14
    write_fer_csv(path, csv_rows((3, 1, 1)))
    assert len(load(path, tmp_path).train) == 21


def test_corrupt_cache_is_rebuilt(tmp_path):
    root = make_folders(tmp_path / "fer")
    good = load(root, tmp_path)
    (cf,) = cache_files(tmp_path)
    cf.write_bytes(cf.read_bytes()[:100])
    with pytest.warns(UserWarning, match="damaged"):
        again = load(root, tmp_path)
    assert np.array_equal(good.train.images, again.train.images)
    assert load(root, tmp_path).train.images.shape == (14, 48, 48)  # rewritten and valid
    assert len(cache_files(tmp_path)) == 1


def test_cache_with_wrong_contents_is_rebuilt(tmp_path):
    root = make_folders(tmp_path / "fer")
    load(root, tmp_path)
    (cf,) = cache_files(tmp_path)
    z = dict(np.load(cf))
    z["train_x"] = z["train_x"][:, :10]
    with open(cf, "wb") as fh:
        np.savez(fh, **z)
    with pytest.warns(UserWarning, match="damaged"):
        assert load(root, tmp_path).train.images.shape == (14, 48, 48)


def test_no_cache_writes_nothing(tmp_path):
    load(make_folders(tmp_path / "fer"), tmp_path, cache=False)
    assert not (tmp_path / "cache").exists()


@pytest.fixture
def user_cache(monkeypatch, tmp_path):
    """No EMOLIB_CACHE: the cache goes to the user cache folder, here $XDG_CACHE_HOME=tmp/xdg; the repository's
    data/ folder is tmp/repo_data."""
    monkeypatch.delenv("EMOLIB_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(data, "REPO_DATA_DIR", tmp_path / "repo_data")
    return tmp_path / "xdg" / "emolib"


@pytest.mark.skipif(os.name != "posix" or sys.platform == "darwin", reason="the XDG layout is Linux's")
@pytest.mark.parametrize("platformdirs", ["installed", "missing"])
def test_default_cache_is_the_user_cache_folder(user_cache, monkeypatch, tmp_path, platformdirs):
    """$XDG_CACHE_HOME/emolib (through platformdirs when it is there), ~/.cache/emolib without XDG_CACHE_HOME,
    and EMOLIB_CACHE over both."""
    if platformdirs == "missing":
        monkeypatch.setitem(sys.modules, "platformdirs", None)  # import platformdirs raises ImportError
    assert data.default_cache_dir() == user_cache
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data.default_cache_dir() == tmp_path / "home" / ".cache" / "emolib"
    monkeypatch.setenv("EMOLIB_CACHE", str(tmp_path / "elsewhere"))
    assert data.default_cache_dir() == tmp_path / "elsewhere"


def test_cache_goes_to_the_user_cache_folder_not_the_repository(user_cache, tmp_path):
    root = make_folders(tmp_path / "fer")
    load_fer2013(root, progress=False)
    assert len(list(user_cache.glob("fer2013-cache-*.npz"))) == 1
    assert not (tmp_path / "repo_data").exists() and not list(root.rglob("*.npz"))


def test_a_cache_left_in_the_repository_is_still_read(user_cache, tmp_path, monkeypatch):
    """A cache an older version wrote into data/ is read (no decoding, nothing new written), unless a cache folder
    is asked for; clear_cache (make clean-cache) deletes caches in both places."""
    root = make_folders(tmp_path / "fer")
    first = load_fer2013(root, cache_dir=tmp_path / "repo_data", progress=False)  # as older versions did
    monkeypatch.setattr(data, "_read_folders", lambda *a: pytest.fail("the repository's cache was not used"))
    again = load_fer2013(root, progress=False)
    assert np.array_equal(first.train.images, again.train.images) and not user_cache.exists()
    with pytest.raises(pytest.fail.Exception):
        load_fer2013(root, cache_dir=tmp_path / "asked", progress=False)  # an explicit folder: only that one
    monkeypatch.undo()
    monkeypatch.delenv("EMOLIB_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(data, "REPO_DATA_DIR", tmp_path / "repo_data")
    load_fer2013(root, cache_dir=user_cache, progress=False)
    removed = data.clear_cache()
    assert sorted(p.parent for p in removed) == sorted([tmp_path / "repo_data", user_cache])
    assert not list((tmp_path / "repo_data").glob("*.npz")) and not list(user_cache.glob("*.npz"))


def test_make_clean_cache_clears_the_cache_where_it_is():
    """`make clean-cache` calls data.clear_cache instead of naming one folder."""
    makefile = (Path(__file__).resolve().parent.parent / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^clean-cache:.*\n((?:\t.*\n)+)", makefile, re.M).group(1)
    assert "clear_cache()" in recipe and "data/" not in recipe


# ---------------------------------------------------------------- duplicates & stats
def test_find_duplicates(tmp_path):
    root = make_folders(tmp_path / "fer", per_class=(2, 1, 1))
    # within train (same label), train-test (different label: a label conflict), val-test
    Image.open(sorted((root / "train" / "angry").iterdir())[0]).save(root / "train" / "angry" / "Training_d1.png")
    Image.open(sorted((root / "train" / "happy").iterdir())[0]).save(root / "test" / "sad" / "PrivateTest_d2.png")
    pub = next((root / "test" / "fear").glob("PublicTest_*"))
    Image.open(pub).save(root / "test" / "fear" / "PrivateTest_d3.png")
    fer = load(root, tmp_path)
    dup = find_duplicates(fer)
    s = dup.summary()
    assert s.loc["within train"].tolist() == [1, 1, 0]
    assert s.loc["within val"].tolist() == [0, 0, 0] and s.loc["within test"].tolist() == [0, 0, 0]
    assert s.loc["train-val"].tolist() == [0, 0, 0]
    assert s.loc["train-test"].tolist() == [1, 1, 1]
    assert s.loc["val-test"].tolist() == [1, 1, 0]
    assert len(dup) == 3 and len(dup.images) == 6
    assert len(dup.groups(across_splits=True)) == 2 and len(dup.groups(across_splits=False)) == 1
    (leak,) = dup.leaked_indices("test")
    assert fer.test.labels[leak] == CLASS_NAMES.index("sad")
    assert dup.leaked_indices("val").size == 0


def test_find_duplicates_none(tmp_path):
    dup = find_duplicates(load(make_folders(tmp_path / "fer"), tmp_path))
    assert len(dup) == 0 and dup.summary().to_numpy().sum() == 0 and dup.groups() == []


def test_pixel_statistics(tmp_path):
    fer = load(make_folders(tmp_path / "fer"), tmp_path)
    stats = data.pixel_statistics(fer)
    assert list(stats.index) == ["train", "val", "test"]
    assert stats.loc["train", "images"] == 14
    assert stats.loc["train", "mean"] == pytest.approx(fer.train.images.mean(), abs=0.01)


# ---------------------------------------------------------------- the real data
def test_real_split_sizes_and_class_counts(real_data):
    fer = real_data
    assert (len(fer.train), len(fer.val), len(fer.test)) == (28709, 3589, 3589)
    counts = dict(zip(CLASS_NAMES, fer.train.class_counts().tolist()))
    assert counts == {"angry": 3995, "disgust": 436, "fear": 4097, "happy": 7215, "sad": 4830,
                      "surprise": 3171, "neutral": 4965}
    held_out = (fer.val.class_counts() + fer.test.class_counts()).tolist()
    assert held_out == [958, 111, 1024, 1774, 1247, 831, 1233]
    for sp in fer.splits().values():
        assert sp.images.dtype == np.uint8 and sp.images.shape[1:] == (48, 48)


def test_real_duplicates(real_data):
    s = find_duplicates(real_data).summary()
    assert 1000 < s.loc["within train", "images"] < 1500  # "about 1,200 exact duplicates in train"
    assert s.loc["train-test", "groups"] > 0  # the leakage the notebook teaches
