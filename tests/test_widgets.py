"""The demo widget driven from Python: uploads, webcam frames, emoji toggle, snapshot."""
from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import numpy as np
import pytest

from emolib.predict import sample_paths
from tests.conftest import require
from emolib.widgets import EmotionDemo, PhotoUpload, WebcamCapture, probability_chart

HOPPER = [p for p in sample_paths() if p.name == "grace_hopper.jpg"][0].read_bytes()


@pytest.fixture()
def demo():
    return EmotionDemo()


def _upload(*files):
    # the shape of ipywidgets 8 FileUpload.value
    return tuple({"name": n, "type": "image/jpeg", "size": len(c), "content": memoryview(c),
                  "last_modified": dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)} for n, c in files)


def test_upload_one_photo(demo):
    demo.process_upload(_upload(("hopper.jpg", HOPPER)))
    assert "1 image(s), 1 face(s) found" in demo.status.value
    (row,) = demo.gallery.children
    caption, body = row.children
    assert "hopper.jpg" in caption.value
    annotated, charts = body.children
    assert annotated.value[:3] == b"\xff\xd8\xff" and len(charts.children) == 1   # a JPEG
    assert annotated.layout.max_width == "100%" and annotated.layout.width == "auto"   # as wide as the page allows


def browser_sends(upload, files, batch=1):
    """What upload.js sends when ``files`` ([(name, bytes)]) are chosen: a start message, each file in
    pieces of ``chunk_bytes``, an end message. Returns the kernel's answers."""
    sent = []
    upload.send = lambda content, buffers=None: sent.append(content)
    fits = [(n, c) for n, c in files[:upload.max_files] if len(c) <= upload.max_bytes]
    upload._on_msg(upload, {"type": "start", "batch": batch, "total": len(files),
                            "files": [{"name": n, "size": len(c), "type": "image/jpeg"} for n, c in fits],
                            "refused": [{"name": n, "size": len(c)} for n, c in files[:upload.max_files]
                                        if len(c) > upload.max_bytes]}, [])
    for i, (_, c) in enumerate(fits):
        for offset in range(0, len(c), upload.chunk_bytes):
            upload._on_msg(upload, {"type": "chunk", "batch": batch, "index": i, "offset": offset},
                           [memoryview(c[offset:offset + upload.chunk_bytes])])
    upload._on_msg(upload, {"type": "end", "batch": batch}, [])
    return sent


def test_upload_through_the_browser_messages(demo):
    demo.upload.chunk_bytes = 10_000         # the photo arrives in several pieces
    assert len(HOPPER) > 3 * 10_000
    answers = browser_sends(demo.upload, [("a.jpg", HOPPER), ("b.jpg", HOPPER)], batch=7)
    assert "2 image(s), 2 face(s)" in demo.status.value and len(demo.gallery.children) == 2
    assert answers == [{"type": "received", "batch": 7}] and demo.upload.count == 2


def test_upload_over_the_limit_is_named_with_the_limit_and_not_sent(demo):
    demo.upload.max_bytes = len(HOPPER) + 10
    big = HOPPER + bytes(100)
    browser_sends(demo.upload, [("big.jpg", big), ("ok.jpg", HOPPER)])
    s = demo.status.value
    assert "1 image(s), 1 face(s)" in s and "big.jpg: file too large: 0 MB; the limit is 0 MB" in s
    # the kernel checks too: pieces beyond the limit, pieces out of order, a file arrived incomplete
    up = demo.upload
    up._on_msg(up, {"type": "start", "batch": 2, "total": 3, "files": [
        {"name": "liar.jpg", "size": 10}, {"name": "shuffled.jpg", "size": len(HOPPER)},
        {"name": "cut.jpg", "size": len(HOPPER)}]}, [])
    up._on_msg(up, {"type": "chunk", "batch": 2, "index": 0, "offset": 0}, [memoryview(big)])
    up._on_msg(up, {"type": "chunk", "batch": 2, "index": 1, "offset": 5}, [memoryview(HOPPER)])
    up._on_msg(up, {"type": "chunk", "batch": 2, "index": 2, "offset": 0}, [memoryview(HOPPER[:100])])
    up._on_msg(up, {"type": "chunk", "batch": 1, "index": 2, "offset": 100}, [memoryview(HOPPER[100:])])  # stale
    up._on_msg(up, {"type": "end", "batch": 2}, [])
    s = demo.status.value
    assert "liar.jpg: file too large: more than" in s and "shuffled.jpg: a piece of the file arrived out of order" in s
    assert "cut.jpg: arrived incomplete (100 of" in s and demo.gallery.children == ()


def test_bad_uploads_show_a_message_and_keep_the_good_ones(demo):
    demo.process_upload(_upload(("empty.jpg", b""), ("notes.txt", b"hello"), ("half.jpg", HOPPER[:2000]),
                                ("ok.jpg", HOPPER)))
    s = demo.status.value
    assert "empty.jpg: empty file (0 bytes)" in s
    assert "notes.txt: not an image" in s and "half.jpg: damaged or truncated" in s
    assert "1 image(s), 1 face(s)" in s and len(demo.gallery.children) == 1


def test_no_face(demo):
    import cv2

    ok, buf = cv2.imencode(".png", np.full((100, 100), 128, np.uint8))
    demo.process_upload(_upload(("wall.png", buf.tobytes())))
    assert "0 face(s)" in demo.status.value and "no face" in demo.status.value


def test_emoji_toggle_redraws(demo):
    demo.process_upload(_upload(("hopper.jpg", HOPPER)))
    before = demo.gallery.children[0].children[1].children[0].value
    demo.emoji.value = True
    after = demo.gallery.children[0].children[1].children[0].value
    assert before != after


def _rgba(path, width=320):
    import cv2

    from emolib.predict import load_image

    rgb = load_image(path)
    h = round(width * rgb.shape[0] / rgb.shape[1])
    small = cv2.resize(rgb, (width, h), interpolation=cv2.INTER_AREA)
    return np.dstack([small, np.full(small.shape[:2], 255, np.uint8)]).tobytes(), width, h


def test_webcam_frames(demo, monkeypatch):
    """The browser sends raw RGBA pixels; the kernel answers with JSON only (no image)."""
    sent = []
    monkeypatch.setattr(demo.camera, "send", lambda content, buffers=None: sent.append((content, buffers)))
    demo.cam_button.value = True
    assert demo.camera.running and demo.cam_button.description == "Stop webcam" and not demo.snapshot.disabled
    pixels, w, h = _rgba(sample_paths()[1])
    for i in range(3):  # what the browser's custom message looks like on the kernel side
        demo._on_camera_msg(demo.camera, {"type": "frame", "id": i, "width": w, "height": h}, [memoryview(pixels)])
    assert [c["type"] for c, _ in sent] == ["result"] * 3 and all(b is None for _, b in sent)
    reply = sent[-1][0]
    assert reply["id"] == 2 and (reply["width"], reply["height"]) == (w, h) and reply["kernel_ms"] > 0
    (face,) = reply["faces"]
    x, y, bw, bh = face["box"]
    assert 0 <= x and x + bw <= w and y + bh <= h and face["label"] in face["probabilities"]
    assert demo.frames_processed == 3 and demo.fps.value.endswith("fps")
    import json

    assert len(json.dumps(reply)) < 1000            # a few hundred bytes per frame, not an image
    demo._on_camera_msg(demo.camera, {"type": "frame", "width": w, "height": h}, [memoryview(b"garbage")])
    assert sent[-1][0]["faces"] == [] and "expected 320x" in demo.status.value
    # the browser reports the rate it measured
    demo.camera.fps = 17.25
    assert demo.fps.value == "17.2 fps"
    # snapshot: asks the browser for a full-size JPEG, annotates the answer
    demo.take_snapshot()
    assert sent[-1][0] == {"type": "snap"}
    demo._on_camera_msg(demo.camera, {"type": "snapshot"}, [memoryview(HOPPER)])
    assert "snapshot" in demo.status.value and "1 face(s)" in demo.status.value and len(demo.gallery.children) == 1
    demo.cam_button.value = False
    assert not demo.camera.running and demo.fps.value == ""
    demo._on_camera_msg(demo.camera, {"type": "frame", "width": w, "height": h}, [memoryview(pixels)])   # late
    assert demo.fps.value == "" and demo.frames_processed == 3 and sent[-1][0]["faces"] == []


def test_jpeg_frames_still_work(demo):
    demo.camera.running = True
    (r,) = demo.process_frame(HOPPER)
    assert r.label and demo.frames_processed == 1


def test_camera_refused(demo):
    demo.cam_button.value = True
    demo.camera.error = "camera unavailable: NotAllowedError: Permission denied"
    assert "Permission denied" in demo.status.value and not demo.cam_button.value


def test_snapshot_without_frames(demo):
    demo.take_snapshot()
    assert "no webcam frame" in demo.status.value


def test_widget_pieces():
    cam = WebcamCapture()
    assert cam.width == 320 and set(cam.emoji) == set(cam.colors) == set(cam.class_names)
    assert all(u.startswith("data:image/png;base64,") for u in cam.emoji.values())
    from emolib.predict import predict_image

    r = predict_image(HOPPER)[0]
    assert probability_chart(r)[:4] == b"\x89PNG"


def test_group_photo_charts_on_demand(demo):
    from emolib.predict import GROUP_SAMPLE

    demo.process_upload(_upload(("class.jpg", GROUP_SAMPLE.read_bytes())))
    assert "1 image(s), 12 face(s) found" in demo.status.value
    charts = demo.gallery.children[0].children[1].children[1]
    assert len(charts.children) == 1 and "all charts" in charts.children[0].value     # a hint, not 12 charts
    demo.panels.value = True
    charts = demo.gallery.children[0].children[1].children[1]
    assert len(charts.children) == 12 and charts.children[0].value[:4] == b"\x89PNG"


def test_webcam_faces_are_reclassified_every_third_frame(demo, monkeypatch):
    import emolib.predict as P    # the demo tracks faces with predict.FaceTracker, which classifies through it

    calls = []
    real = P.classify_faces
    monkeypatch.setattr(P, "classify_faces", lambda faces, model=None: calls.append(len(faces)) or real(faces, model))
    demo.camera.running = True
    pixels, w, h = _rgba(sample_paths()[1])
    labels = [demo.process_frame(pixels, w, h)[0].probabilities for _ in range(7)]
    assert calls == [1, 1, 1]                       # frames 1, 4 and 7
    assert labels[0] == labels[1] == labels[2]      # the same face: probabilities kept in between
    assert {r.face_id for r in demo._last_results} == {1}, "one face, one number, as FaceTracker gives it"


def test_bad_input_gets_a_message_and_nothing_is_written(demo, tmp_path, monkeypatch):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from test_predict import _png_header   # a small file claiming w x h pixels

    monkeypatch.chdir(tmp_path)
    demo.process_upload(_upload(("huge.png", _png_header(20000, 20000))))
    assert "huge.png: image too large" in demo.status.value and demo.gallery.children == ()
    browser_sends(demo.upload, [(f"p{i}.jpg", HOPPER) for i in range(50)])   # the browser sends 20 of 50
    assert "20 image(s), 20 face(s)" in demo.status.value and "50 files at once" in demo.status.value
    assert len(demo.gallery.children) == 20
    demo.cam_button.value = True
    demo.camera.error = "no camera found: this computer has no webcam (or it is switched off); upload photos instead"
    assert "no camera found" in demo.status.value and not demo.camera.running
    assert list(tmp_path.iterdir()) == []


STATIC = Path(__file__).resolve().parent.parent / "emolib" / "static"


def test_the_browser_code_is_files_sent_to_the_browser():
    """anywidget loads the JavaScript and CSS from emolib/static by path and sends them as they are."""
    from emolib.widgets import STATIC_DIR

    assert STATIC_DIR == STATIC
    for widget, files in ((WebcamCapture(), ("widget.js", "widget.css")), (PhotoUpload(), ("upload.js", "widget.css"))):
        esm, css = files
        assert widget._esm == (STATIC / esm).read_text() and widget._css == (STATIC / css).read_text()
    for js in STATIC.glob("*.js"):   # self-contained: nothing fetched from a CDN when a page opens
        text = js.read_text()
        assert not re.search(r"^\s*import\b|\bimport\(", text, re.M), f"{js.name} imports a module"
        assert re.search(r"^export default \{ render \};$", text, re.M), f"{js.name}: no anywidget render"
    classes = set(re.findall(r"\.(emo-[\w-]+)", (STATIC / "widget.css").read_text()))
    used = set(re.findall(r"emo-[\w-]+", "".join(p.read_text() for p in STATIC.glob("*.js"))))
    assert classes <= used, f"styles for classes no script sets: {sorted(classes - used)}"


def _eslint(*args, stdin=None):
    """eslint from node_modules (npm ci; make lint-js), in the checkout; skips without it (fails under CI)."""
    import shutil
    import subprocess

    root = STATIC.parent.parent
    eslint = root / "node_modules" / ".bin" / "eslint"
    why = ("node is not installed (eslint runs on node: apt-get install nodejs npm)" if not shutil.which("node")
           else None if eslint.exists() else "eslint is not installed: run `npm ci` (or make lint-js) in the checkout")
    require(not why, why)
    return subprocess.run([str(eslint), *args], cwd=root, input=stdin, capture_output=True, text=True, timeout=120)


def test_widget_javascript_passes_eslint():
    """The widgets' JavaScript (emolib/static/*.js) passes eslint (eslint.config.mjs): under a second."""
    proc = _eslint("--max-warnings=0", "emolib/static")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # and the configuration does catch mistakes: a misspelt name, an unused one
    proc = _eslint("--stdin", "--stdin-filename", "emolib/static/check.js", stdin="const unused = 1;\nmodle.get();\n")
    assert proc.returncode == 1 and "'modle' is not defined" in proc.stdout and "'unused'" in proc.stdout
