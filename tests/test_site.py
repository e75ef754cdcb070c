"""The static site (``python -m emolib site DIR``) in headless Chromium: the same answers as Python.

The site is built into a temporary folder and served by ``python -m http.server``. The browser
classifies the PrivateTest faces (sent from here, never written anywhere) and labels the sample photos;
its answers are compared with emolib's Python path on the same model files. Then the webcam (Chromium's
fake camera), bad input, and every request the page makes.

Without Chromium, Playwright or ``node_modules`` (``npm ci``) the browser tests are skipped, except under
CI=true where they fail.
"""
from __future__ import annotations

import base64
import io
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tests.conftest import require  # noqa: E402
from test_browser import CHROMIUM, FLAGS, _free_port, chromium_with_camera, require_chromium, serving  # noqa: E402
from test_predict import _png_header  # noqa: E402  (a PNG that claims a size)

from emolib import site  # noqa: E402


# ---------------------------------------------------------------------------------------- without a browser
def test_site_without_node_modules_says_to_run_npm_ci(tmp_path, capsys):
    from emolib.__main__ import main

    assert main(["site", str(tmp_path / "out"), "--node-modules", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err
    assert "npm ci" in err and "@litertjs/core" in err
    assert not (tmp_path / "out").exists()


def test_fixed_batch_copy_gives_the_shipped_probabilities(tmp_path):
    """The browser's copy of emonet_1view.tflite (batch fixed at 1 for LiteRT.js) is the same network."""
    from emolib.predict import LITERT_1VIEW_PATH, LiteRTModel

    assert site.fixed_batch(LITERT_1VIEW_PATH, tmp_path / "b1.tflite") > 0
    x = np.random.default_rng(0).integers(0, 256, (5, 48, 48, 1)).astype(np.float32)
    want = LiteRTModel(LITERT_1VIEW_PATH, num_threads=1).predict(x)
    copy = LiteRTModel(tmp_path / "b1.tflite", num_threads=1)   # batch 1: one face per call
    got = np.concatenate([copy.predict_on_batch(x[i:i + 1]) for i in range(len(x))])
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_site_config_is_emolibs_own_constants():
    from emolib import faces, images, predict

    cfg = site.config()
    assert cfg["crop_scale"] == faces.CROP_SCALE and cfg["crop_shift_y"] == faces.CROP_SHIFT_Y
    assert cfg["detector"]["tile_min_score"] == faces.TILE_MIN_SCORE and cfg["max_side"] == images.MAX_SIDE
    assert cfg["view_budget_ms"] == predict.VIEW_BUDGET_MS


# ---------------------------------------------------------------------------------------- in Chromium
@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The site, built into a temporary folder and served on a free localhost port."""
    require_chromium()
    require(site.find_node_modules(Path(__file__).parent) is not None,
             "node_modules lacks LiteRT.js (@litertjs/core): run `npm ci`")
    tmp = tmp_path_factory.mktemp("site")
    out = site.build(tmp / "site", site.find_node_modules(Path(__file__).parent))
    port = _free_port()
    cmd = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(out)]
    import urllib.request

    url = f"http://127.0.0.1:{port}/"
    with serving(cmd, out, None, tmp / "http.log", lambda: urllib.request.urlopen(url, timeout=2).close()):
        yield url, tmp


def _open(browser, url, requests=None):
    """The page, loaded and ready (its networks compiled); ``requests`` collects [phase, url] of each request."""
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    phase = ["load"]
    if requests is not None:
        page.on("request", lambda r: requests.append((phase[0], r.url)))
    page.goto(url, timeout=60_000)
    page.evaluate("() => window.emoSite.ready")
    page.wait_for_load_state("networkidle")
    phase[0] = "after load"
    page.phase = phase
    return page


def _upload(page, name, data, mime="image/jpeg"):
    """Choose a file with the photo button; the page's result ({results...} or {error})."""
    page.evaluate("() => { window.emoSite.photoResults = null; }")
    page.set_input_files("#photo", files=[{"name": name, "mimeType": mime, "buffer": data}])
    page.wait_for_function("() => window.emoSite.photoResults !== null", timeout=120_000)
    return page.evaluate("() => window.emoSite.photoResults")


def _match(py_boxes, js_boxes):
    """For each Python box, the IoU of the browser box closest to it."""
    from emolib.faces import box_iou

    return [max((box_iou(tuple(p), tuple(j)) for j in js_boxes), default=0.0) for p in py_boxes]


@pytest.mark.browser
@pytest.mark.real_data
@pytest.mark.slow
def test_site_classifies_privatetest_like_python(served, real_data):
    """All 3,589 PrivateTest faces, one view each: >= 99 % the labels of emolib's LiteRT path on the same file
    (emonet_1view.tflite), and accuracy within 0.3 points; the first 600 faces with the page's 6 views (made in
    JavaScript) against LiteRTModel(views=6) on the same file, and the shipped emonet.tflite (the same views inside)."""
    from playwright.sync_api import sync_playwright

    from emolib.predict import LITERT_1VIEW_PATH, LITERT_PATH, LiteRTModel

    url, tmp = served
    x, y = real_data.test.images, real_data.test.labels
    assert len(x) == 3589
    faces = x.reshape(-1, 48, 48, 1).astype(np.float32)
    sub = slice(0, 600)
    python = {1: LiteRTModel(LITERT_1VIEW_PATH, views=1).predict(faces),
              6: LiteRTModel(LITERT_1VIEW_PATH, views=6).predict(faces[sub])}
    shipped = LiteRTModel(LITERT_PATH).predict(faces[sub])
    got: dict[int, list] = {1: [], 6: []}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            page = _open(browser, url)
            for views, end in ((1, len(x)), (6, sub.stop)):
                for i in range(0, end, 256):
                    chunk = np.ascontiguousarray(x[i:min(i + 256, end)], np.uint8)
                    got[views] += page.evaluate("""async ([b64, n, views]) => {
                        const faces = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
                        return (await window.emoSite.pipeline.classify(faces, n, views)).map((p) => Array.from(p)); }""",
                                                [base64.b64encode(chunk.tobytes()).decode(), len(chunk), views])
        finally:
            browser.close()
    one, six = np.array(got[1]), np.array(got[6])
    agree = float(np.mean(one.argmax(1) == python[1].argmax(1)))
    agree6 = float(np.mean(six.argmax(1) == python[6].argmax(1)))
    acc_b, acc_p = float(np.mean(one.argmax(1) == y)), float(np.mean(python[1].argmax(1) == y))
    line = (f"PrivateTest in Chromium, one view: label agreement {agree:.4%} with Python on the same file, accuracy "
            f"{acc_b:.4f} (Python {acc_p:.4f}), largest probability difference {np.abs(one - python[1]).max():.2e}; "
            f"first 600 faces with 6 views: agreement {agree6:.4%}, with emonet.tflite "
            f"{np.mean(six.argmax(1) == shipped.argmax(1)):.4%}")
    print("\n" + line)
    (tmp / "agreement.txt").write_text(line + "\n")
    assert agree >= 0.99 and agree6 >= 0.99, line
    assert abs(acc_b - acc_p) <= 0.003, line


@pytest.mark.browser
def test_site_photos_give_pythons_faces_and_labels(served):
    """The sample photos and the 12-face group photo: the same faces (IoU >= 0.9) and labels as
    emolib.predict.predict_image with the same file and views (emonet_1view.tflite, 6 views); a 48-megapixel photo is downscaled in the browser and its boxes come back
    in its own pixels; the annotated photo downloads; results have alt text."""
    import cv2
    from playwright.sync_api import expect, sync_playwright

    from emolib.images import sample_paths
    from emolib.predict import GROUP_SAMPLE, LITERT_1VIEW_PATH, LiteRTModel, predict_image

    url, tmp = served
    photos = sample_paths() + [GROUP_SAMPLE]
    model = LiteRTModel(LITERT_1VIEW_PATH, views=6)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            page = _open(browser, url)
            for path in photos:
                want = predict_image(path, model)
                got = _upload(page, path.name, path.read_bytes())
                assert "error" not in got, got
                js = got["results"]
                assert len(js) == len(want), (path.name, [r.box for r in want], [r["box"] for r in js])
                ious = _match([r.box for r in want], [r["box"] for r in js])
                assert min(ious) >= 0.9, (path.name, ious)
                for r in want:      # the label of the browser's box that matches this face
                    j = max(js, key=lambda j: _match([r.box], [j["box"]])[0])
                    assert j["label"] == r.label, (path.name, r.box, r.label, j)
                    assert abs(j["probabilities"][r.label] - r.probabilities[r.label]) < 0.05, (path.name, r, j)
            label = page.locator("#annotated").get_attribute("aria-label")
            assert label.startswith(f"{GROUP_SAMPLE.name}, annotated: 12 face(s): face 1 "), label
            expect(page.locator("#photo-results li")).to_have_count(12)
            alts = page.locator("#photo-results li img").evaluate_all("(imgs) => imgs.map((i) => i.alt)")
            assert all(a.endswith(" emoji") and a.split()[0] in site.CLASS_NAMES for a in alts), alts

            # a phone's screen: nothing wider than it, the controls at least 44 px high (touch targets)
            page.set_viewport_size({"width": 360, "height": 740})
            assert page.evaluate("() => document.documentElement.scrollWidth") <= 360
            assert page.locator("#annotated").bounding_box()["width"] <= 360
            assert min(page.locator(s).bounding_box()["height"] for s in ("#camera", "#photo-label", "#download")) >= 44
            page.set_viewport_size({"width": 1100, "height": 900})

            # the annotated photo, downloaded: a PNG of the photo with boxes drawn on it
            with page.expect_download() as dl:
                page.get_by_role("button", name="Download annotated photo").click()
            png = cv2.imdecode(np.frombuffer(Path(dl.value.path()).read_bytes(), np.uint8), cv2.IMREAD_COLOR)
            photo = cv2.imread(str(GROUP_SAMPLE))
            assert png.shape == photo.shape and dl.value.suggested_filename == "group_of_12_emotions.png"
            assert np.abs(png.astype(int) - photo).max() > 100      # something drawn

            # a 48-megapixel phone photo (8000x6000): the group photo enlarged 4x in its middle
            group = cv2.imread(str(GROUP_SAMPLE))
            big = np.full((6000, 8000, 3), 128, np.uint8)
            g = cv2.resize(group, (group.shape[1] * 4, group.shape[0] * 4), interpolation=cv2.INTER_CUBIC)
            y0, x0 = (6000 - g.shape[0]) // 2, (8000 - g.shape[1]) // 2
            big[y0:y0 + g.shape[0], x0:x0 + g.shape[1]] = g
            data = cv2.imencode(".jpg", big, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
            got = _upload(page, "phone.jpg", data)
            assert (got["width"], got["height"]) == (8000, 6000) and max(got["workWidth"], got["workHeight"]) == 2048
            want = predict_image(data, model)   # Python's boxes, in the photo's own pixels too
            ious = _match([r.box for r in want], [r["box"] for r in got["results"]])
            assert len(got["results"]) == len(want) == 12 and min(ious) >= 0.8, ious
        finally:
            browser.close()


@pytest.mark.browser
def test_site_webcam_from_the_keyboard(served, tmp_path):
    """The fake camera (grace_hopper.jpg): started with the keyboard, one face boxed and labelled on the
    overlay at a measured frame rate, and stopped again."""
    from playwright.sync_api import expect, sync_playwright

    from emolib.faces import box_iou, detect_faces

    url, tmp = served
    with sync_playwright() as pw:
        browser = chromium_with_camera(pw, tmp_path)
        try:
            page = _open(browser, url)
            page.keyboard.press("Tab")                  # the first control: the webcam button
            assert page.evaluate("() => document.activeElement.id") == "camera"
            page.keyboard.press("Tab")                  # the second: the photo chooser, opened with Space
            with page.expect_file_chooser(timeout=10_000) as chooser:
                page.keyboard.press("Space")
            assert chooser.value.element.get_attribute("accept") == "image/jpeg,image/png,image/webp"
            page.keyboard.press("Shift+Tab")
            page.keyboard.press("Enter")
            expect(page.get_by_role("button", name="Stop webcam")).to_be_visible(timeout=30_000)
            page.wait_for_function("() => window.emoSite.frames > 5 && window.emoSite.fps > 0", timeout=60_000)
            live = page.evaluate("() => window.emoSite.liveResults")
            assert len(live) == 1 and live[0]["label"] in site.CLASS_NAMES, live
            frame = np.frombuffer(base64.b64decode(page.evaluate("""() => { const c = document.createElement('canvas');
                const v = document.getElementById('video'); [c.width, c.height] = [v.videoWidth, v.videoHeight];
                const g = c.getContext('2d'); g.drawImage(v, 0, 0);
                const d = g.getImageData(0, 0, c.width, c.height).data; let s = '';
                for (let i = 0; i < d.length; i += 8192) s += String.fromCharCode(...d.subarray(i, i + 8192));
                return btoa(s); }""")), np.uint8)
            rgb = frame.reshape(480, 640, 4)[:, :, :3].copy()
            want = detect_faces(rgb)
            assert len(want) == 1 and box_iou(want[0], tuple(live[0]["box"])) >= 0.9, (want, live)
            drawn = page.evaluate("""() => { const c = document.getElementById('overlay');
                const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                let n = 0; for (let i = 3; i < d.length; i += 4) n += d[i] > 0; return [c.width, n]; }""")
            assert drawn[0] == 640 and drawn[1] > 1000, drawn
            assert "1 face(s)" in page.locator("#overlay").get_attribute("aria-label")
            expect(page.locator("#fps")).to_contain_text(" fps")
            page.keyboard.press("Enter")                 # the button kept the focus
            expect(page.get_by_role("button", name="Start webcam")).to_be_visible(timeout=10_000)
            expect(page.locator("#status")).to_have_text("Webcam off.")
        finally:
            browser.close()


@pytest.mark.browser
def test_site_bad_files_get_a_clear_message_and_the_page_keeps_working(served):
    """Not an image, 0 bytes, 20000x20000 pixels, a GIF, a truncated JPEG: a message naming the file and the
    problem; then a JPEG, a PNG and a WebP are labelled as Python labels them."""
    import cv2
    from playwright.sync_api import expect, sync_playwright

    from emolib.faces import box_iou
    from emolib.images import sample_paths
    from emolib.predict import LITERT_1VIEW_PATH, LiteRTModel, predict_image

    url, _ = served
    hopper = [p for p in sample_paths() if p.name == "grace_hopper.jpg"][0]
    gif = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00" \
          b"\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
    cases = [("notes.jpg", b"these are my notes, not a photo\n", "image/jpeg", "is not a JPEG, PNG or WebP image"),
             ("empty.png", b"", "image/png", "is empty (0 bytes)"),
             ("huge.png", _png_header(20000, 20000), "image/png", "is too large: 20000x20000 pixels"),
             ("anim.gif", gif, "image/gif", "the page accepts JPEG, PNG and WebP photos"),
             ("cut.jpg", hopper.read_bytes()[:300], "image/jpeg", "cannot be read")]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            page = _open(browser, url)
            for name, data, mime, message in cases:
                got = _upload(page, name, data, mime)
                assert message in got.get("error", ""), (name, got)
                expect(page.locator("#status")).to_contain_text(message)
                expect(page.locator("#status")).to_contain_text(name)
            got = _upload(page, hopper.name, hopper.read_bytes())      # still working
            assert len(got["results"]) == 1
            expect(page.locator("#status")).to_contain_text("1 face(s)")
            rgb = cv2.imread(str(hopper))
            model = LiteRTModel(LITERT_1VIEW_PATH, views=6)
            for ext, mime in ((".png", "image/png"), (".webp", "image/webp")):   # the other accepted formats
                data = cv2.imencode(ext, rgb)[1].tobytes()
                got = _upload(page, f"hopper{ext}", data, mime)["results"]
                want = predict_image(data, model)
                assert [r["label"] for r in got] == [r.label for r in want], (ext, got, want)
                assert box_iou(tuple(got[0]["box"]), want[0].box) >= 0.9, (ext, got, want)
        finally:
            browser.close()


@pytest.mark.browser
@pytest.mark.parametrize("flags, message", [
    (["--use-fake-device-for-media-stream", "--deny-permission-prompts"], "Camera permission denied"),
    (["--use-fake-ui-for-media-stream"], "No camera found"),
], ids=["permission-denied", "no-camera"])
def test_site_camera_refused_or_missing(served, flags, message):
    from playwright.sync_api import expect, sync_playwright

    from emolib.images import sample_paths

    url, _ = served
    hopper = [p for p in sample_paths() if p.name == "grace_hopper.jpg"][0]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS + flags)
        try:
            page = _open(browser, url)
            page.get_by_role("button", name="Start webcam").click()
            expect(page.locator("#status")).to_contain_text(message, timeout=30_000)
            expect(page.get_by_role("button", name="Start webcam")).to_be_enabled()
            assert len(_upload(page, hopper.name, hopper.read_bytes())["results"]) == 1   # still working
        finally:
            browser.close()


@pytest.mark.browser
def test_site_requests_only_its_own_files_and_nothing_after_loading(served, tmp_path):
    """Every request goes to the page's own origin; labelling a photo and running the webcam sends none."""
    from playwright.sync_api import expect, sync_playwright

    from emolib.predict import GROUP_SAMPLE

    url, _ = served
    requests: list = []
    with sync_playwright() as pw:
        browser = chromium_with_camera(pw, tmp_path)
        try:
            page = _open(browser, url, requests)
            loaded = [u for _, u in requests]
            assert any(u.endswith(".wasm") for u in loaded) and any(u.endswith("emonet_1view.tflite") for u in loaded)
            assert len(_upload(page, GROUP_SAMPLE.name, GROUP_SAMPLE.read_bytes())["results"]) == 12
            page.get_by_role("button", name="Start webcam").click()
            page.wait_for_function("() => window.emoSite.frames > 5", timeout=60_000)
            page.get_by_role("button", name="Download annotated photo").click()
            page.get_by_role("button", name="Stop webcam").click()
            expect(page.locator("#status")).to_have_text("Webcam off.")
            page.wait_for_timeout(500)
            privacy = page.locator("#privacy").inner_text()
        finally:
            browser.close()
    outside = [u for _, u in requests if not (u.startswith(url) or u.startswith(("blob:", "data:")))]
    assert not outside, outside
    after = [u for phase, u in requests if phase == "after load" and not u.startswith(("blob:", "data:"))]
    assert not after, after
    assert "never leave this device" in privacy
