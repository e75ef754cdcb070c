"""Face detection and FER2013-style cropping (emolib.faces)."""
from __future__ import annotations

import numpy as np
import pytest

from emolib.faces import CROP_SCALE, FaceDetector, crop_face, detect, detect_faces, face_square, to_gray
from emolib.predict import load_image, sample_paths


@pytest.fixture(scope="module")
def photos():
    return {p.name: load_image(p) for p in sample_paths()}


def test_one_face_in_each_sample(photos):
    for name, rgb in photos.items():
        boxes = detect_faces(rgb)
        assert len(boxes) == 1, name
        x, y, w, h = boxes[0]
        H, W = rgb.shape[:2]
        assert 0 <= x and 0 <= y and x + w <= W and y + h <= H
        assert 0.1 * W < w < 0.7 * W and 0.5 < w / h < 2


def test_grayscale_and_mirrored_photos_are_found_too(photos):
    rgb = photos["grace_hopper.jpg"]
    (x, y, w, h), = detect_faces(rgb)
    (gx, gy, gw, gh), = detect_faces(to_gray(rgb))
    assert abs(gx - x) < 0.1 * w and abs(gw - w) < 0.1 * w
    (mx, my, mw, mh), = detect_faces(np.ascontiguousarray(rgb[:, ::-1]))
    assert abs((rgb.shape[1] - mx - mw) - x) < 0.1 * w


def test_two_faces_left_to_right(photos):
    a, b = photos["astronaut.jpg"], photos["grace_hopper.jpg"]
    h = max(a.shape[0], b.shape[0])
    canvas = np.zeros((h, a.shape[1] + b.shape[1], 3), np.uint8)
    canvas[: a.shape[0], : a.shape[1]] = a
    canvas[: b.shape[0], a.shape[1]:] = b
    dets = detect(canvas)
    assert len(dets) == 2
    assert dets[0].box[0] < a.shape[1] <= dets[1].box[0]
    assert all(0.5 <= d.score <= 1 and d.keypoints.shape == (6, 2) for d in dets)


@pytest.mark.parametrize("image", [np.zeros((480, 640), np.uint8), np.full((300, 200, 3), 255, np.uint8),
                                   np.random.default_rng(0).integers(0, 256, (240, 320, 3), dtype=np.uint8)])
def test_no_face_is_an_empty_list(image):
    assert detect_faces(image) == []


def test_bad_inputs():
    with pytest.raises(ValueError, match="unknown face detector"):
        FaceDetector("huge")
    with pytest.raises(TypeError, match="uint8"):
        detect_faces(np.zeros((10, 10), np.float32))
    with pytest.raises(ValueError, match="shape"):
        detect_faces(np.zeros((10, 10, 5), np.uint8))


def test_short_range_model_agrees(photos):
    rgb = photos["astronaut.jpg"]
    (x, y, w, h), = detect_faces(rgb, model="short")
    (fx, fy, fw, fh), = detect_faces(rgb)
    assert abs(x + w / 2 - fx - fw / 2) < 0.2 * fw


def test_crop_is_a_48x48_fer_style_square(photos):
    rgb = photos["grace_hopper.jpg"]
    box = detect_faces(rgb)[0]
    face = crop_face(rgb, box)
    assert face.shape == (48, 48) and face.dtype == np.uint8
    sx, sy, side, side2 = face_square(box)
    assert side == side2 == round(max(box[2:]) * CROP_SCALE)
    # same as cropping the grayscale photo
    assert np.array_equal(face, crop_face(to_gray(rgb), box))
    # a FER2013 face fills the frame: the crop's centre is face (not background) -> textured
    assert face[12:36, 12:36].std() > 10


def test_crop_outside_the_photo_repeats_the_edge():
    gray = np.tile(np.arange(100, dtype=np.uint8), (100, 1))
    face = crop_face(gray, (-30, -30, 60, 60))
    assert face.shape == (48, 48)
    assert face[:, 0].max() == 0        # left part repeats column 0


# ------------------------------------------------------------------------- group photos (tiles)
@pytest.fixture(scope="module")
def group():
    import json

    from emolib.predict import GROUP_SAMPLE

    truth = json.loads(GROUP_SAMPLE.with_suffix(".json").read_text())["faces"]
    return load_image(GROUP_SAMPLE), truth


def _iou(a, b) -> float:
    iw = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return iw * ih / (a[2] * a[3] + b[2] * b[3] - iw * ih)


def test_every_face_of_the_group_photo_and_no_false_one(group):
    rgb, truth = group
    assert len(truth) == 12 and min(t[2] for t in truth) >= 40
    boxes = detect_faces(rgb)
    assert len(boxes) == 12
    for t in truth:     # each true face matched by exactly one box
        assert sum(_iou(b, t) >= 0.4 for b in boxes) == 1, t
    # one pass over the whole photo misses most of them (what tiles are for)
    assert len(detect_faces(rgb, min_face=None)) < 9


def test_tiles_spread_over_workers_give_the_same_faces(group):
    """Two interpreters side by side find exactly what one finds alone, in the same order."""
    from emolib.faces import FaceDetector

    rgb, _ = group
    one, two = FaceDetector(workers=1)(rgb, min_face=40), FaceDetector(workers=2)(rgb, min_face=40)
    assert len(one) == len(two) == 12
    for a, b in zip(one, two):
        assert a.box == b.box and a.score == pytest.approx(b.score)


def test_tiles_only_where_needed():
    from emolib.faces import tile_levels

    assert tile_levels(320, 240, 40) == []                    # small image: the single pass reaches 40 px
    levels = tile_levels(2048, 1536, 40)
    assert levels[0][0] == 0.5 and len(levels) == 3           # finest: a 40-px face becomes 20 network px
    for scale, tiles in levels:
        w, h = round(2048 * scale), round(1536 * scale)
        assert max(x for x, _ in tiles) + 192 >= w and max(y for _, y in tiles) + 192 >= h   # whole image
    assert len(tile_levels(2048, 1536, 80)) == len(levels) - 1   # bigger faces: fewer levels


def test_portrait_takes_the_single_pass(photos, monkeypatch):
    """A face of at least 1/6 of the photo's short side: no tiles (as fast as before)."""
    det = FaceDetector("full")
    calls = []
    real = det._raw
    monkeypatch.setattr(det, "_raw", lambda canvas, s: calls.append(1) or real(canvas, s))
    for rgb in photos.values():
        single = [d.box for d in det(rgb)]
        calls.clear()
        assert [d.box for d in det(rgb, min_face=40)] == single
        assert len(calls) == 1, rgb.shape


def test_no_false_face_in_face_free_photos():
    from sklearn.datasets import load_sample_image

    for name in ("china.jpg", "flower.jpg"):
        rgb = load_sample_image(name)
        assert detect_faces(rgb) == [], name
        assert detect_faces(np.ascontiguousarray(np.kron(rgb, np.ones((2, 2, 1), np.uint8)))) == [], name


def test_a_lower_min_score_keeps_faces_the_default_drops():
    """detect(min_score=...) below the shared detector's own 0.5 reaches the network's lower scores too."""
    from emolib.faces import detect
    from emolib.images import SAMPLES_DIR, load_image

    rgb = load_image(SAMPLES_DIR / "grace_hopper.jpg")
    default, loose = detect(rgb, min_face=None), detect(rgb, min_face=None, min_score=0.05)
    assert len(loose) > len(default) >= 1
    assert min(d.score for d in loose) < 0.5 <= min(d.score for d in default)
