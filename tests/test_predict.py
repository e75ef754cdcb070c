"""Loading any image safely, predicting every face in one call, drawing (emolib.predict)."""
from __future__ import annotations

import io
import json
import struct
import time
import zlib

import numpy as np
import pytest
from PIL import Image

from emolib.data import CLASS_NAMES
from emolib.views import VIEWS
from emolib.predict import (
    MAX_SIDE, FaceResult, ImageError, LiteRTModel, annotate, classify_faces, emoji_image, get_fast_model,
    get_model, load_image, predict_image, saliency_map, sample_paths,
)

HOPPER = [p for p in sample_paths() if p.name == "grace_hopper.jpg"][0]


def _jpeg(img: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", **kw)
    return buf.getvalue()


def _png_header(w: int, h: int) -> bytes:
    """A PNG that claims w x h pixels but holds (almost) no data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(b"IEND", b""))


# ------------------------------------------------------------------------- the modules
def test_image_input_and_drawing_names_still_come_from_emolib_predict():
    """Reading photos lives in emolib.images and drawing in emolib.draw; emolib.predict re-exports them
    (the same objects), so older code and the notebooks keep importing them from there."""
    import emolib.draw as D
    import emolib.images as I
    import emolib.predict as P

    for module, names in [(I, ["ImageError", "Photo", "ImageSource", "load_image", "load_photo", "sample_paths",
                               "scale_results", "MAX_PIXELS", "MAX_SIDE", "MAX_FILE_BYTES", "DRAFT_MIN_FRACTION",
                               "SAMPLES_DIR", "GROUP_SAMPLE"]),
                          (D, ["annotate", "emoji_image", "place_label", "CLASS_COLORS", "PANEL_MAX_FACES",
                               "EMOJI_DIR"])]:
        for name in names:
            assert getattr(P, name) is getattr(module, name), name
    assert ImageError.__module__ == "emolib.images" and annotate.__module__ == "emolib.draw"


# ------------------------------------------------------------------------- load_image
def test_sources_path_bytes_pil_array(tmp_path):
    ref = load_image(HOPPER)
    assert ref.shape == (600, 512, 3) and ref.dtype == np.uint8
    assert np.array_equal(load_image(str(HOPPER)), ref)
    assert np.array_equal(load_image(HOPPER.read_bytes()), ref)
    assert np.array_equal(load_image(Image.open(HOPPER)), ref)
    assert np.array_equal(load_image(ref), ref)
    assert np.array_equal(load_image(ref[:, :, ::-1].copy(), bgr=True), ref)


def test_pixel_formats():
    rgb = load_image(HOPPER)
    gray = np.asarray(Image.fromarray(rgb).convert("L"))
    out = load_image(gray)
    assert out.shape == (*gray.shape, 3) and np.array_equal(out[:, :, 0], gray)
    assert load_image(gray[:, :, None]).shape == out.shape
    assert np.array_equal(load_image(gray.astype(np.uint16) * 257), out)       # 16-bit
    assert np.abs(load_image(gray / 255.0).astype(int) - out).max() <= 1        # float 0..1
    rgba = np.dstack([rgb, np.full(gray.shape, 255, np.uint8)])
    assert np.array_equal(load_image(rgba), rgb)
    assert np.array_equal(load_image(Image.fromarray(rgba, "RGBA")), rgb)
    i16 = Image.fromarray(gray.astype(np.uint16) * 257)                          # PIL "I;16"
    assert np.abs(load_image(i16).astype(int) - out).max() <= 1
    assert load_image(Image.fromarray(rgb).convert("P")).shape == rgb.shape
    with pytest.raises(ImageError, match="shape"):
        load_image(np.zeros((5, 5, 7), np.uint8))
    with pytest.raises(ImageError, match="empty image array"):
        load_image(np.zeros((0, 5), np.uint8))
    with pytest.raises(ImageError, match="cannot read an image from a int"):
        load_image(42)


def test_exif_orientation_is_applied():
    img = Image.new("RGB", (200, 100), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6                       # "rotate 90 CW to view"
    out = load_image(_jpeg(img, exif=exif.tobytes()))
    assert out.shape == (200, 100, 3)


def test_big_images_are_downscaled():
    out = load_image(np.zeros((5000, 3000, 3), np.uint8))
    assert max(out.shape[:2]) == MAX_SIDE and out.shape[:2] == (MAX_SIDE, round(3000 * MAX_SIDE / 5000))
    # a 72-megapixel JPEG is decoded at reduced scale (fast, little memory)
    big = _jpeg(Image.new("L", (12000, 6000), 128), quality=50)
    t = time.perf_counter()
    out = load_image(big)
    assert time.perf_counter() - t < 10
    assert max(out.shape[:2]) <= MAX_SIDE


def test_camera_sized_jpeg_is_decoded_at_half_scale():
    """A 12-megapixel JPEG is read at 1/2 scale by the JPEG decoder itself (2000x1500, not 2048x1536),
    upright by its EXIF orientation; other formats are resized to MAX_SIDE."""
    rng = np.random.default_rng(0)
    photo = Image.fromarray(rng.integers(0, 256, (300, 400, 3), np.uint8)).resize((4000, 3000))
    assert load_image(_jpeg(photo)).shape == (1500, 2000, 3)
    assert load_image(_jpeg(photo), max_side=4000).shape == (3000, 4000, 3)     # no reduction asked for
    exif = Image.Exif()
    exif[0x0112] = 6
    assert load_image(_jpeg(photo, exif=exif.tobytes())).shape == (2000, 1500, 3)
    buf = io.BytesIO()
    photo.save(buf, "PNG")
    assert load_image(buf.getvalue()).shape == (1536, 2048, 3)


@pytest.mark.parametrize("w,h", [(20000, 20000), (100000, 100000)])
def test_huge_image_is_refused_fast(w, h):
    t = time.perf_counter()
    with pytest.raises(ImageError, match="too large"):
        load_image(_png_header(w, h))
    assert time.perf_counter() - t < 2


def test_bad_files(tmp_path):
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    text = tmp_path / "notes.jpg"
    text.write_text("this is not a photo")
    trunc = tmp_path / "half.jpg"
    trunc.write_bytes(HOPPER.read_bytes()[:3000])
    cases = {empty: "empty file", text: "not an image", trunc: "truncated", tmp_path / "nope.png": "file not found",
             tmp_path: "not a file"}
    for path, msg in cases.items():
        with pytest.raises(ImageError, match=msg) as err:
            load_image(path)
        assert isinstance(err.value, ValueError)
    with pytest.raises(ImageError, match="empty file"):
        load_image(b"")


# ------------------------------------------------------------------------- predict
def test_predict_samples():
    for p in sample_paths():
        results = predict_image(p)
        assert len(results) == 1
        r = results[0]
        assert r.label in CLASS_NAMES and r.label == max(r.probabilities, key=r.probabilities.get)
        assert list(r.probabilities) == list(CLASS_NAMES)
        assert abs(sum(r.probabilities.values()) - 1) < 1e-4 and r.score == r.probabilities[r.label]
        assert r.face.shape == (48, 48)
        json.dumps(r.to_dict())


def test_no_face_is_an_empty_result():
    assert predict_image(np.full((480, 640, 3), 90, np.uint8)) == []
    assert classify_faces(np.zeros((0, 48, 48), np.uint8)).shape == (0, 7)


def test_all_faces_in_one_model_call(monkeypatch):
    import emolib.predict as P

    calls = []
    real = P.classify_faces

    def counting(faces, model=None):
        calls.append(len(faces))
        return real(faces, model)

    monkeypatch.setattr(P, "classify_faces", counting)
    a, b = load_image(sample_paths()[0]), load_image(HOPPER)
    canvas = np.zeros((600, 1024, 3), np.uint8)
    canvas[:512, :512] = a
    canvas[:, 512:] = b
    results = predict_image(canvas)
    assert len(results) == 2 and calls == [2]
    # the same as predicting each face alone
    alone = real(np.stack([r.face for r in results]))
    assert np.allclose([list(r.probabilities.values()) for r in results], alone, atol=1e-5)


def test_saliency_map():
    face = predict_image(HOPPER)[0].face
    m = saliency_map(face, samples=4)
    assert m.shape == (48, 48) and 0 <= m.min() and m.max() == pytest.approx(1.0)
    assert saliency_map(face, label="sad", samples=2).shape == (48, 48)


# ------------------------------------------------------------------------- annotate
def test_annotate_boxes_and_emoji():
    rgb = load_image(HOPPER)
    results = predict_image(rgb)
    plain = annotate(rgb, results)
    emo = annotate(rgb, results, emoji=True)
    assert plain.shape == emo.shape == rgb.shape and plain.dtype == np.uint8
    x, y, w, h = results[0].box
    assert not np.array_equal(plain, rgb) and not np.array_equal(emo, plain)
    # the emoji covers the face's middle with flat yellow-ish colour
    assert emo[y + h // 2 - 5:y + h // 2 + 5, x + w // 2 - 40: x + w // 2 - 30, 2].mean() < 120
    assert np.array_equal(annotate(rgb, []), rgb)
    fake = FaceResult((10, 10, 30, 30), "surprise", 0.5, dict.fromkeys(CLASS_NAMES, 1 / 7))
    assert annotate(np.zeros((50, 50, 3), np.uint8), [fake], emoji=True).shape == (50, 50, 3)


def test_emoji_assets():
    for c in CLASS_NAMES:
        im = emoji_image(c)
        assert im.mode == "RGBA" and im.size == (256, 256)
    with pytest.raises(ValueError, match="unknown class"):
        emoji_image("bored")


# ------------------------------------------------------------------------- LiteRT
def test_classify_faces_runs_the_litert_copy_by_default_with_the_keras_numbers():
    faces = np.stack([r.face for p in sample_paths() for r in predict_image(p)])
    assert isinstance(get_fast_model(), LiteRTModel)
    fast, reference = classify_faces(faces), classify_faces(faces, get_model())
    np.testing.assert_allclose(fast, reference, atol=0.03)  # the copy is int8: close, not identical
    assert (fast.argmax(1) == reference.argmax(1)).all()


def test_photo_to_emotions_needs_no_tensorflow():
    """The demo path (detector + classifier) runs on LiteRT alone: no multi-second TensorFlow import."""
    import subprocess
    import sys

    code = ("import sys; from emolib.predict import predict_image, sample_paths; "
            "print([r.label for p in sample_paths() for r in predict_image(p)], 'tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("False"), out.stdout
    assert "happy" in out.stdout


@pytest.mark.parametrize("content, message", [
    (None, "LiteRT model file not found: .*nope.tflite"),
    (b"not a flatbuffer" * 20, "cannot load LiteRT model file .*bad.tflite"),
])
def test_litert_model_bad_files(tmp_path, content, message):
    path = tmp_path / ("nope.tflite" if content is None else "bad.tflite")
    if content is not None:
        path.write_bytes(content)
    with pytest.raises((FileNotFoundError, ValueError), match=message):
        LiteRTModel(path)


def test_litert_model_refuses_a_non_emotion_model(tmp_path):
    import keras

    from emolib.models import export_litert

    other = keras.Sequential([keras.Input((32, 32, 1)), keras.layers.Flatten(), keras.layers.Dense(10)])
    export_litert(other, tmp_path / "other.tflite")
    with pytest.raises(ValueError, match="is not an emotion model"):
        LiteRTModel(tmp_path / "other.tflite")


def test_group_photo_all_faces_in_one_model_call(monkeypatch):
    import emolib.predict as P

    calls = []
    real = P.classify_faces
    monkeypatch.setattr(P, "classify_faces", lambda faces, model=None: calls.append(len(faces)) or real(faces, model))
    results = predict_image(P.GROUP_SAMPLE)
    assert len(results) == 12 and calls == [12]
    assert P.GROUP_SAMPLE not in sample_paths()       # the portraits stay the portraits


def _inside_unchanged(before: np.ndarray, after: np.ndarray, box, margin: int = 4) -> bool:
    x, y, w, h = box
    return np.array_equal(before[y + margin:y + h - margin, x + margin:x + w - margin],
                          after[y + margin:y + h - margin, x + margin:x + w - margin])


def test_labels_never_cover_a_face_and_panels_only_for_few_faces():
    import emolib.predict as P

    rgb = load_image(P.GROUP_SAMPLE)
    results = predict_image(rgb)
    out = annotate(rgb, results)
    assert all(_inside_unchanged(rgb, out, r.box) for r in results)       # every face left visible
    assert np.array_equal(out, annotate(rgb, results, bars=False))        # 12 faces: no panels by default
    assert not np.array_equal(out, annotate(rgb, results, bars=True))     # ...unless asked for
    # 30 small faces close together: the labels shrink and find room between them
    wall = np.full((480, 640, 3), 60, np.uint8)
    crowd = [FaceResult((20 + 105 * (i % 6), 20 + 90 * (i // 6), 42, 42), "happy", 0.5,
                        dict.fromkeys(CLASS_NAMES, 1 / 7)) for i in range(30)]
    out = annotate(wall, crowd, bars=True)
    assert all(_inside_unchanged(wall, out, r.box) for r in crowd)
    # one portrait: label and panel beside the face, not on it
    one = load_image(HOPPER)
    (r,) = predict_image(one)
    out = annotate(one, [r])
    assert _inside_unchanged(one, out, r.box) and not np.array_equal(out, annotate(one, [r], bars=False))


# ------------------------------------------------------------------------- boxes in the input's own pixels
def _iou(a, b) -> float:
    iw = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return iw * ih / (a[2] * a[3] + b[2] * b[3] - iw * ih)


@pytest.fixture(scope="module")
def big_group(tmp_path_factory):
    """The 12-face group photo upscaled 2.5x to 2400x1800 (wider than MAX_SIDE), as a PNG file,
    with its true face boxes in that photo's pixels."""
    import emolib.predict as P

    k = 2.5
    small = Image.open(P.GROUP_SAMPLE)
    path = tmp_path_factory.mktemp("big") / "big_group.jpg"
    small.resize((round(small.width * k), round(small.height * k)), Image.BICUBIC).save(path, quality=92)
    truth = [[v * k for v in t] for t in json.loads(P.GROUP_SAMPLE.with_suffix(".json").read_text())["faces"]]
    return path, truth


def test_boxes_of_a_photo_larger_than_the_working_size_are_in_its_own_pixels(big_group):
    from emolib.predict import load_photo

    path, truth = big_group
    photo = load_photo(path)
    assert photo.size == (2400, 1800) and photo.rgb.shape == (1536, 2048, 3)
    results = predict_image(path)
    assert len(results) == 12
    for t in truth:          # every true face (original pixels) matched by exactly one box
        assert sum(_iou(r.box, t) >= 0.4 for r in results) == 1, t


@pytest.mark.slow
def test_every_source_of_a_large_photo_and_its_annotation_agree(big_group):
    """A Photo or the file's bytes give the same original-pixel boxes as the path; an array is its
    own pixels (the working copy's boxes are the original's times the scale); annotate(photo,
    predict_image(photo)) draws them on the working copy where annotate(rgb, predict_image(rgb)) does."""
    from emolib.predict import load_photo

    path, truth = big_group
    photo = load_photo(path)
    ref = sorted(predict_image(path), key=lambda r: r.box)
    for results in (predict_image(photo), predict_image(path.read_bytes())):
        assert [r.box for r in sorted(results, key=lambda r: r.box)] == [r.box for r in ref]
    work = sorted(predict_image(photo.rgb), key=lambda r: r.box)
    for a, b in zip(work, ref):
        assert np.allclose(np.array(a.box) / photo.scale, b.box, atol=2)
    drawn = annotate(photo, ref, bars=False)
    assert drawn.shape == photo.rgb.shape
    same = annotate(photo.rgb, work, bars=False)
    assert np.mean(np.abs(drawn.astype(int) - same) > 40) < 0.002   # the same picture, give or take a pixel


def test_rotated_large_jpeg_reports_its_upright_size():
    """A 4000x3000 JPEG with EXIF "rotate 90": its own upright size is 3000x4000."""
    from emolib.predict import load_photo

    exif = Image.Exif()
    exif[0x0112] = 6
    photo = load_photo(_jpeg(Image.new("RGB", (4000, 3000), (90, 90, 90)), exif=exif.tobytes()))
    assert photo.size == (3000, 4000) and photo.rgb.shape == (2000, 1500, 3)


# ------------------------------------------------------------------------- test-time views that fit the machine
def test_ship_wraps_the_same_views_that_predict_makes():
    """One views table: the file ship.with_views writes averages the views that make_views makes outside it."""
    import keras

    from emolib.ship import with_views
    from emolib.views import make_views

    x = np.random.default_rng(0).integers(0, 256, (3, 48, 48, 1)).astype(np.float32)
    net = keras.Sequential([keras.Input((48, 48, 1)), keras.layers.Flatten(),
                            keras.layers.Dense(7, activation="softmax", kernel_initializer="glorot_uniform")])
    for n in VIEWS:
        inside = np.asarray(with_views(net, n).predict_on_batch(x))
        outside = np.asarray(net.predict_on_batch(make_views(x, n))).reshape(n, len(x), 7).mean(axis=0)
        np.testing.assert_allclose(inside, outside, atol=1e-5, err_msg=f"{n} views")


def test_make_views_moves_and_mirrors_like_with_tta():
    from emolib.predict import make_views

    x = np.random.default_rng(0).integers(0, 256, (3, 48, 48, 1)).astype(np.float32)
    v = make_views(x, 6)
    assert v.shape == (18, 48, 48, 1)
    assert np.array_equal(v[:3], x) and np.array_equal(v[9:12], x[:, :, ::-1])
    assert np.array_equal(v[3:6, 3:, 3:], x[:, :-3, :-3]) and not v[3:6, :3].any()     # 3 down-right, zeros in
    assert np.array_equal(v[6:9, :-3, :-3], x[:, 3:, 3:]) and not v[6:9, -3:].any()    # 3 up-left
    with pytest.raises(ValueError, match="views must be one of"):
        make_views(x, 4)


def test_views_made_outside_the_network_give_the_shipped_files_probabilities():
    """The network alone (emonet_1view.tflite) with its 6 views made in numpy gives what the shipped file,
    its 6 views inside, gives; fewer views give nearly the same."""
    from emolib.predict import LITERT_1VIEW_PATH, LITERT_PATH

    faces = np.stack([r.face for p in sample_paths() for r in predict_image(p)]
                     + [f for f in np.random.default_rng(1).integers(0, 256, (4, 48, 48), np.uint8)])
    shipped = LiteRTModel(LITERT_PATH).predict_on_batch(faces)
    for views, tol in ((6, 0.03), (2, 0.15), (1, 0.25)):
        p = LiteRTModel(LITERT_1VIEW_PATH, views=views).predict_on_batch(faces)
        assert p.shape == shipped.shape and np.allclose(p.sum(1), 1, atol=1e-3)
        assert np.abs(p - shipped).max() < tol, views


def test_views_auto_chosen_by_time_or_set(monkeypatch):
    import emolib.predict as P

    before = get_fast_model().views
    try:
        assert get_fast_model(2).views == 2 and get_fast_model().views == 2       # kept until changed
        assert get_fast_model("1").views == 1
        assert set(P.view_times()) == {1, 2, 6} and P.view_times()[1] < P.view_times()[6]
        monkeypatch.setattr(P, "_VIEW_TIMES", {1: 1.0, 2: 4.0, 6: 12.0})          # a slower machine
        assert P.choose_views() == 2 and get_fast_model("auto").views == 2
        monkeypatch.setenv("EMOLIB_VIEWS", "1")
        assert P.get_fast_model(None).views == 2                                  # None keeps what is loaded
        with pytest.raises(ValueError, match="views must be one of"):
            get_fast_model("many")
        acc = P.view_choices()
        assert set(acc) == {1, 2, 6} and acc[1] < acc[2] <= acc[6]
    finally:
        get_fast_model(before)


@pytest.mark.slow
def test_the_one_view_file_is_the_shipped_network():
    """emonet_1view.tflite is the network inside emonet.keras (without its views), int8: re-export it
    (export_litert(without_tta(model), path, quantize=True)) whenever the shipped network changes."""
    from emolib.models import without_tta
    from emolib.predict import LITERT_1VIEW_PATH

    faces = np.random.default_rng(2).integers(0, 256, (16, 48, 48, 1)).astype(np.float32)
    keras_p = np.asarray(without_tta(get_model()).predict(faces, verbose=0))
    lite_p = LiteRTModel(LITERT_1VIEW_PATH).predict_on_batch(faces)
    assert np.abs(keras_p - lite_p).max() < 0.05
    assert (keras_p.argmax(1) == lite_p.argmax(1)).mean() >= 0.9


def test_the_shipped_file_is_run_once_per_face_with_its_views_inside(monkeypatch):
    """6 views from the shipped file: its own 6 views, no more made around it (one face, one row)."""
    import emolib.predict as P

    m = P._views_model(6)
    seen = []
    real = m._run
    monkeypatch.setattr(m, "_run", lambda x: seen.append(len(x)) or real(x))
    m.predict_on_batch(np.zeros((3, 48, 48, 1), np.float32))
    assert m.views == 6 and seen == [3]
    assert np.allclose(m.predict_on_batch(np.zeros((2, 48, 48), np.float32)),
                       LiteRTModel().predict_on_batch(np.zeros((2, 48, 48), np.float32)))
