"""The app without code (``make app`` = ``python -m emolib app``, Voila) in headless Chromium.

Starts the app on a free port, opens it in Debian's Chromium (Playwright) with the
fake camera playing a video made from a sample photo, and checks: no code on the
page, the responsible-use line, a photo uploaded and labelled, bad uploads (not an
image, 0 bytes, a 20000x20000 image, 50 photos at once) each named in a clear
message with the kernel still answering, webcam frames labelled, then a camera
refused and a browser without a camera. Nothing may be written to the app's
working folder. ``EMOLIB_SCREENSHOTS=figures`` (``make screenshots``) saves the
README's figures/demo_app.png (the app) and figures/demo_group.png (the annotated
group photo, as the app shows it); otherwise they go to the test's temporary folder.
"""
from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest

from tests.conftest import require

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_browser import (CHROMIUM, FLAGS, _free_port, chromium_with_camera, record_fps,  # noqa: E402
                          screenshot_dir, serving)
from test_predict import _png_header  # noqa: E402  (a PNG that claims a size)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """``python -m emolib app`` on a free localhost port, in an empty working folder."""
    require(Path(CHROMIUM).is_file(), f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    for mod in ("playwright", "voila"):
        try:
            __import__(mod)
        except ImportError:
            require(False, f"the {mod} Python package is not installed")
    tmp = tmp_path_factory.mktemp("app")
    work = tmp / "work"
    work.mkdir()
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp / "config"), JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
               IPYTHONDIR=str(tmp / "ipython"), MPLBACKEND="Agg", TF_CPP_MIN_LOG_LEVEL="2")
    port = _free_port()
    cmd = [sys.executable, "-m", "emolib", "app", f"--port={port}", "--no-browser"]
    with serving(cmd, work, env, tmp / "app.log", lambda: socket.create_connection(("127.0.0.1", port), 2).close()):
        yield f"http://127.0.0.1:{port}/", tmp, work


def _open(browser, url):
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    for attempt in (1, 2):
        page.goto(url, timeout=120_000)
        # Voila under heavy CPU load can show "Error displaying widget: model not found" (its widget
        # manager asked before the kernel had made the model): a visitor reloads, so does the test
        shown = page.locator(".emo-status").or_(page.get_by_text("Error displaying widget"))
        expect(shown.first).to_be_visible(timeout=180_000)
        if page.locator(".emo-status").count() or attempt == 2:
            break
    expect(page.locator(".emo-status")).to_be_visible(timeout=10_000)
    return page


def _upload(page, files):
    with page.expect_file_chooser(timeout=30_000) as chooser:
        page.locator(".jupyter-widgets.widget-upload").click()
    chooser.value.set_files(files)


@pytest.mark.browser
def test_app_upload_bad_files_and_webcam(app):
    from playwright.sync_api import expect, sync_playwright

    from emolib.predict import GROUP_SAMPLE, sample_paths

    url, tmp, work = app
    hopper = [p for p in sample_paths() if p.name == "grace_hopper.jpg"][0]
    shots = screenshot_dir(tmp)
    with sync_playwright() as pw:
        browser = chromium_with_camera(pw, tmp)
        try:
            page = _open(browser, url)
            status = page.locator(".emo-status")
            # no code on the page, the responsible-use line on it
            assert page.locator(".jp-InputArea-editor, .cm-editor, .CodeMirror").count() == 0
            assert "from emolib.widgets import" not in page.content()     # the source is stripped
            expect(page.locator(".emo-responsible")).to_contain_text("a visible expression is not a felt emotion")
            expect(page.locator(".emo-responsible")).to_contain_text("Art. 5(1)(f)")

            # a photo of 12 faces, uploaded and labelled
            _upload(page, str(GROUP_SAMPLE))
            expect(status).to_contain_text("1 image(s), 12 face(s) found", timeout=120_000)
            expect(page.locator(".emo-caption").first).to_contain_text("%")
            page.locator(".emo-gallery img").first.screenshot(path=str(shots / "demo_group.png"))
            shown = page.locator(".emo-gallery img.emo-photo").first.evaluate(
                "e => [e.getBoundingClientRect().width, e.naturalWidth]")
            assert shown[0] >= min(900, shown[1]) - 1, shown     # large: the photo's own width, or the page's

            # bad files: each named with its problem; the good one still labelled
            _upload(page, [{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"not a photo"},
                           {"name": "empty.jpg", "mimeType": "image/jpeg", "buffer": b""},
                           {"name": "huge.png", "mimeType": "image/png", "buffer": _png_header(20000, 20000)},
                           {"name": "hopper.jpg", "mimeType": "image/jpeg", "buffer": hopper.read_bytes()}])
            expect(status).to_contain_text("notes.txt: not an image", timeout=60_000)
            for text in ("empty.jpg: empty file (0 bytes)", "huge.png: image too large", "1 image(s), 1 face(s)"):
                expect(status).to_contain_text(text)
            # 50 photos at once: the first 20 shown, the rest named
            _upload(page, [{"name": f"p{i:02d}.jpg", "mimeType": "image/jpeg", "buffer": hopper.read_bytes()}
                           for i in range(50)])
            expect(status).to_contain_text("50 files at once", timeout=180_000)
            expect(status).to_contain_text("20 image(s), 20 face(s)")
            expect(page.locator(".emo-caption")).to_have_count(20)

            # the webcam: frames labelled by the kernel, drawn by the browser
            page.get_by_role("button", name="Start webcam").click()
            expect(page.locator(".emo-live-label")).to_contain_text("%", timeout=60_000)
            rate = page.locator(".emo-cam-fps")
            expect(rate).to_contain_text(" fps", timeout=30_000)
            page.wait_for_timeout(5000)
            record_fps(rate.inner_text() + " (app)", tmp)
            page.evaluate("window.scrollTo(0, 0)")
            page.screenshot(path=str(shots / "demo_app.png"))
            page.get_by_role("button", name="Stop webcam").click()
            expect(page.locator(".emo-fps")).to_have_text("", timeout=30_000)
        finally:
            browser.close()
    assert list(work.iterdir()) == []       # nothing written to disk


@pytest.mark.browser
@pytest.mark.parametrize("flags, message", [
    (["--use-fake-device-for-media-stream", "--deny-permission-prompts"], "camera permission denied"),
    (["--use-fake-ui-for-media-stream"], "no camera found"),
], ids=["permission-denied", "no-camera"])
def test_app_camera_refused_or_missing(app, flags, message):
    from playwright.sync_api import expect, sync_playwright

    url, tmp, work = app
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS + flags)
        try:
            page = _open(browser, url)
            page.get_by_role("button", name="Start webcam").click()
            expect(page.locator(".emo-status")).to_contain_text(message, timeout=60_000)
            expect(page.get_by_role("button", name="Start webcam")).to_be_visible()   # switched back off
            _upload(page, [{"name": "wall.png", "mimeType": "image/png", "buffer": _png_header(10, 10)}])
            expect(page.locator(".emo-status")).to_contain_text("wall.png:", timeout=60_000)   # kernel alive
        finally:
            browser.close()
    assert list(work.iterdir()) == []


def phone_jpeg(mib: float, seed: int = 0) -> bytes:
    """A 48-megapixel (8000x6000) JPEG of about ``mib`` MiB, as phones take them: the 12-face group
    photo, 4x enlarged, in the middle of noise whose strength sets the file's size (within 0.5 MiB)."""
    import cv2
    import numpy as np

    from emolib.predict import GROUP_SAMPLE

    group = cv2.imread(str(GROUP_SAMPLE))
    group = cv2.resize(group, (group.shape[1] * 4, group.shape[0] * 4), interpolation=cv2.INTER_CUBIC)
    tile = np.random.default_rng(seed).normal(0, 1, (1000, 1000, 3)).astype(np.float32)
    lo, hi, amp = 0.0, None, 0.65 * mib
    for _ in range(12):
        img = np.tile((128 + amp * tile).clip(0, 255).astype(np.uint8), (6, 8, 1))
        y, x = (6000 - group.shape[0]) // 2, (8000 - group.shape[1]) // 2
        img[y:y + group.shape[0], x:x + group.shape[1]] = group
        buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
        if abs(len(buf) / 2**20 - mib) < 0.5:
            return buf
        lo, hi = (amp, hi) if len(buf) / 2**20 < mib else (lo, amp)
        amp = (lo + hi) / 2 if hi is not None else amp * 1.5
    raise AssertionError(f"no noise strength gives a {mib} MiB JPEG")


@pytest.mark.browser
@pytest.mark.slow
def test_app_phone_photos_large_and_heic(app, tmp_path):
    """48-megapixel JPEGs of 12 and 25 MiB and a HEIC are labelled in Chromium (the browser sends them in
    pieces under the websocket's message limit); a file over the app's limit is named with the limit, unsent.
    No websocket of the page closes on the way."""
    import io

    import pillow_heif
    from PIL import Image
    from playwright.sync_api import expect, sync_playwright

    from emolib.predict import GROUP_SAMPLE, MAX_FILE_BYTES

    url, _, work = app
    files = {}
    for mib in (12, 25):
        files[mib] = tmp_path / f"IMG_48MP_{mib}MiB.jpg"
        files[mib].write_bytes(phone_jpeg(mib))
    pillow_heif.register_heif_opener()
    heic = io.BytesIO()
    Image.open(GROUP_SAMPLE).save(heic, "HEIF", quality=80)
    too_big = tmp_path / "IMG_panorama.jpg"
    too_big.write_bytes(files[25].read_bytes() * 3)              # 75 MiB: over the app's 50 MB
    closed = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            page = _open(browser, url)
            page.on("websocket", lambda ws: ws.on("close", lambda w: closed.append(w.url)))
            status = page.locator(".emo-status")
            for mib in (12, 25):
                _upload(page, str(files[mib]))
                expect(status).to_have_text("1 image(s), 12 face(s) found", timeout=120_000)
                expect(page.locator(".emo-caption").first).to_contain_text(files[mib].name)
                expect(page.locator(".emo-upload-progress")).to_have_text("", timeout=30_000)
            _upload(page, [{"name": "IMG_0002.HEIC", "mimeType": "image/heic", "buffer": heic.getvalue()}])
            expect(status).to_have_text("1 image(s), 12 face(s) found", timeout=120_000)
            expect(page.locator(".emo-caption").first).to_contain_text("IMG_0002.HEIC")
            _upload(page, [str(too_big), str(files[12])])
            limit = f"the limit is {MAX_FILE_BYTES / 1e6:.0f} MB"
            expect(status).to_contain_text(f"IMG_panorama.jpg: file too large: "
                                           f"{too_big.stat().st_size / 1e6:.0f} MB; {limit}", timeout=120_000)
            expect(status).to_contain_text("1 image(s), 12 face(s) found")
            expect(page.locator(".widget-upload")).to_contain_text("Photos (2)")
        finally:
            browser.close()
    assert closed == [], f"websockets closed during the uploads: {closed}"
    assert list(work.iterdir()) == []


def test_app_without_voila_says_how_to_install(monkeypatch, capsys):
    import importlib.util

    from emolib.__main__ import main

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "voila" else real(name, *a))
    assert main(["app", "--no-browser"]) == 2
    assert "pip install 'voila" in capsys.readouterr().err


def test_app_notebook_ships_with_the_package():
    import json

    from emolib.predict import ASSETS_DIR

    nb = json.loads((ASSETS_DIR / "app.ipynb").read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert len(code) == 1 and all(not c["outputs"] for c in code)    # Voila runs it fresh for each visitor
    text = "".join("".join(c["source"]) for c in nb["cells"])
    assert "not a felt emotion" in text and "2024/1689" in text


def _served(monkeypatch, capsys, *argv, with_env=False):
    """Run ``python -m emolib app ARGV`` up to the point where it becomes Voila: (command, stdout, stderr),
    and the environment it gives Voila if ``with_env``."""
    import os

    from emolib.__main__ import main

    ran, envs = [], []

    def execve(path, cmd, env):
        ran.append(cmd)
        envs.append(env)
        raise SystemExit(0)

    monkeypatch.setattr(os, "execve", execve)
    monkeypatch.setattr(os, "name", "posix")
    with pytest.raises(SystemExit):
        main(["app", "--no-browser", *argv])
    out, err = capsys.readouterr()
    return (ran[0], out, err, envs[0]) if with_env else (ran[0], out, err)


def _option(cmd, name):
    (value,) = [c.split("=", 1)[1] for c in cmd if c.startswith(f"--{name}=")]
    return value


def test_app_on_this_computer_needs_no_token(monkeypatch, capsys):
    cmd, out, err = _served(monkeypatch, capsys)
    assert _option(cmd, "Voila.ip") == "127.0.0.1" and _option(cmd, "Voila.token") == ""
    assert "http://127.0.0.1:8866/\n" in out and "?token" not in out and "WARNING" not in err
    assert _option(cmd, "VoilaConfiguration.default_pool_size") == "1"    # one kernel ready for the first visitor


def test_app_shared_on_the_network_gets_a_token_and_a_warning(monkeypatch, capsys):
    import re

    cmd, out, err = _served(monkeypatch, capsys, "--ip", "0.0.0.0", "--port", "9000")
    token = _option(cmd, "Voila.token")
    assert re.fullmatch(r"[0-9a-f]{48}", token)                               # generated, as Jupyter's
    assert f"http://127.0.0.1:9000/?token={token}" in out and "share this address" in out
    assert "WARNING: the app listens on 0.0.0.0:9000" in err and "cannot run code" in err and "never saved" in err
    assert _option(cmd, "MappingKernelManager.cull_idle_timeout") == "1200"     # 20 minutes
    assert _option(cmd, "MappingKernelManager.cull_connected") == "True"
    assert _option(cmd, "VoilaConfiguration.multi_kernel_manager_class") == "emolib.appserver.AppKernelManager"
    assert _option(cmd, "VoilaConfiguration.preheat_kernel") == "True"
    assert _option(cmd, "VoilaConfiguration.default_pool_size") == "30"    # a class at once
    assert _option(cmd, "VoilaKernelManager.fill_delay") == "30"     # replacements start after the class arrived
    assert _option(_served(monkeypatch, capsys, "--refill-seconds", "2.5")[0], "VoilaKernelManager.fill_delay") == "2.5"
    again, out, _ = _served(monkeypatch, capsys, "--ip", "0.0.0.0")
    assert _option(again, "Voila.token") != token                             # a new one each time
    given, out, _ = _served(monkeypatch, capsys, "--ip", "192.168.1.20", "--token", "class-7b", "--kernels", "30",
                            "--cull-minutes", "5")
    assert _option(given, "Voila.token") == "class-7b" and "http://192.168.1.20:8866/?token=class-7b" in out
    assert _option(given, "VoilaConfiguration.default_pool_size") == "30"
    assert _option(given, "MappingKernelManager.cull_idle_timeout") == "300"
    none, _, _ = _served(monkeypatch, capsys, "--kernels", "0", "--cull-minutes", "0")
    assert not any("preheat" in c for c in none) and _option(none, "MappingKernelManager.cull_idle_timeout") == "0"


def test_app_chooses_the_views_once_for_every_kernel(monkeypatch, capsys):
    from emolib.__main__ import main

    monkeypatch.delenv("EMOLIB_VIEWS", raising=False)
    _, out, _, env = _served(monkeypatch, capsys, "--views", "2", with_env=True)
    assert env["EMOLIB_VIEWS"] == "2" and "\n2 test-time view(s) per face\n" in out
    _, out, _, env = _served(monkeypatch, capsys, with_env=True)
    assert env["EMOLIB_VIEWS"] in {"1", "2", "6"} and "(timed on this computer; --views to choose)" in out
    monkeypatch.setenv("EMOLIB_VIEWS", "6")
    _, out, _, env = _served(monkeypatch, capsys, with_env=True)
    assert env["EMOLIB_VIEWS"] == "6" and "--views to choose" not in out
    monkeypatch.setenv("EMOLIB_VIEWS", "7")
    assert main(["app", "--no-browser"]) == 2
    assert "EMOLIB_VIEWS is '7'; it takes auto or a number of views: 1, 2, 6" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--ip", "0.0.0.0", "--token", ""], "--ip 0.0.0.0 lets other computers in, so the app needs a token"),
    (["--kernels", "-1"], "--kernels is a number of kernels, 0 or more, not -1"),
])
def test_app_refuses_an_open_door(argv, message, capsys):
    from emolib.__main__ import main

    assert main(["app", "--no-browser", *argv]) == 2
    assert message in capsys.readouterr().err


def test_idle_visitors_kernels_are_culled_but_not_the_pool():
    """AppKernelManager culls as Jupyter's does, except the pre-started kernels waiting in Voila's pool."""
    import asyncio
    import datetime as dt
    from types import SimpleNamespace

    from emolib.appserver import AppKernelManager, pooled_kernel_ids

    async def scenario():
        loop = asyncio.get_running_loop()
        manager = AppKernelManager(cull_idle_timeout=60, cull_connected=True)
        old = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)
        spec = SimpleNamespace(metadata={})
        manager._kernels = {k: SimpleNamespace(execution_state="idle", last_activity=old, kernel_name="python3",
                                               kernel_spec=spec) for k in ("visitor", "pooled", "starting")}
        done = loop.create_future()
        done.set_result({"kernel_id": "pooled"})
        manager._pools = {"app.ipynb": [done, loop.create_future()]}       # one ready, one still starting
        assert pooled_kernel_ids(manager) == {"pooled"}
        culled = []

        async def shutdown_kernel(kernel_id, *a, **k):
            culled.append(kernel_id)

        manager.shutdown_kernel = shutdown_kernel
        await manager.cull_kernels()
        assert culled == ["visitor", "starting"]
        manager._kernels["pooled"].execution_state = "dead"                 # a dead one goes, pooled or not
        await manager.cull_kernels()
        assert "pooled" in culled

    asyncio.run(scenario())


@pytest.mark.browser
@pytest.mark.slow
def test_shared_app_needs_its_token_and_culls_idle_visitors(tmp_path):
    """``--ip 0.0.0.0``: Chromium without the token gets the login page, not the app; with the printed address
    it gets the app (a pre-started kernel) and a photo labelled. The visitor's kernel is culled after its idle
    time (here 6 s); the pre-started kernel waiting for the next visitor is not."""
    import re
    import time

    from playwright.sync_api import expect, sync_playwright

    from emolib.predict import sample_paths

    require(Path(CHROMIUM).is_file(), f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    work = tmp_path / "work"
    work.mkdir()
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp_path / "config"), JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
               IPYTHONDIR=str(tmp_path / "ipython"), MPLBACKEND="Agg", TF_CPP_MIN_LOG_LEVEL="2")
    port, log = _free_port(), tmp_path / "app.log"
    cmd = [sys.executable, "-m", "emolib", "app", "--ip=0.0.0.0", f"--port={port}", "--no-browser", "--kernels=1",
           "--cull-minutes=0.1", "--refill-seconds=0"]
    with serving(cmd, work, env, log, lambda: socket.create_connection(("127.0.0.1", port), 2).close()):
        (token,) = set(re.findall(r"\?token=([0-9a-f]{48})", log.read_text()))
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
            try:
                page = browser.new_page()
                page.goto(f"http://127.0.0.1:{port}/", timeout=60_000)
                assert "/login" in page.url and page.locator(".emo-status").count() == 0
                expect(page.locator("input[type=password]").first).to_be_visible()
                page = _open(browser, f"http://127.0.0.1:{port}/?token={token}")
                _upload(page, str([p for p in sample_paths() if p.name == "grace_hopper.jpg"][0]))
                expect(page.locator(".emo-status")).to_contain_text("1 image(s), 1 face(s) found", timeout=60_000)
                deadline = time.time() + 60
                while "Culling 'idle' kernel" not in log.read_text() and time.time() < deadline:
                    time.sleep(1)
            finally:
                browser.close()
        text = log.read_text()
    (visitor,) = re.findall(r"Using pre-heated kernel: ([0-9a-f-]+)", text)
    started = set(re.findall(r"Kernel started: ([0-9a-f-]+)", text))
    culled = set(re.findall(r"Culling 'idle' kernel '\w+' \(([0-9a-f-]+)\)", text))
    assert culled == {visitor}, text[-3000:]
    assert len(started) == 2 and started - culled           # the refilled pool's kernel stays
    assert list(work.iterdir()) == []


def test_teaching_states_the_measured_visitors_figures():
    """TEACHING's figures for a shared app are read from benchmarks/results/app_visitors.json, never typed anew."""
    import json

    root = Path(__file__).resolve().parent.parent
    runs = json.loads((root / "benchmarks" / "results" / "app_visitors.json").read_text())["runs"]
    text = " ".join((root / "docs" / "TEACHING.md").read_text().split())
    from emolib.app import REFILL_DELAY_S

    full, five = runs["30 visitors, 1 in Chromium, 30 kernels"], runs["30 visitors, 5 in Chromium, 30 kernels"]
    few = runs["30 visitors, 1 in Chromium, 8 kernels"]
    cpu, memory = full["cpu_s_during_visits"], full["memory"]
    for phrase in (f"each takes about {memory['visitor_kernel_rss_mib']} MiB (RSS; about "
                   f"{memory['visitor_kernel_pss_mib']} MiB PSS)",
                   f"all 30 pages were ready within {full['page_open_s']['p95']:.1f} s (p95",
                   f"one Chromium page, visible after {full['page_open_chromium_s']['max']:.1f} s",
                   f"{full['answers']} of 30 photos came back labelled {full['upload_to_labelled_s']['p50']:.1f} s",
                   f"The app used {cpu['server'] + cpu['kernels']:.0f} CPU seconds for the 30 visitors and "
                   f"{memory['server_total_pss_mib'] / 1000:.1f} GB of memory (PSS)",
                   f"took the p95 to {five['page_open_s']['p95']:.1f} s",
                   f"{few['answers']} of 30 got an answer within 3 minutes",
                   f"waited up to {few['page_open_s']['max']:.0f} s for the page ({few['page_open_s']['p95']:.0f} s p95)",
                   f"replaced {REFILL_DELAY_S} s later"):
        assert phrase in text, f"TEACHING should say: {phrase}"
