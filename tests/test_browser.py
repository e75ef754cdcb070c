"""The demo widget in a real browser: JupyterLab + headless Debian Chromium via Playwright.

Uploads a sample photo through the Photos button and checks the annotated result;
then starts the webcam (Chromium's fake camera, fed with a Y4M video made here
from a sample photo) and checks that predictions come back. The screenshots
(demo_upload.png, demo_webcam.png) go to the test's temporary folder, so a test
run leaves the checkout unchanged;
``EMOLIB_SCREENSHOTS=figures pytest tests/test_browser.py`` (``make screenshots``)
refreshes the README's copies instead.

Without Chromium (``/usr/bin/chromium``) the test is skipped, except under
CI=true where it fails. Install it with ``apt-get install chromium``.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

from tests.conftest import require


pytestmark = pytest.mark.browser  # every test here starts Chromium (make test-all, not make test)

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_y4m(path: Path, rgb: np.ndarray, frames: int = 20, size: tuple[int, int] = (640, 480)) -> None:
    """A tiny uncompressed 4:2:0 video of ``rgb`` letterboxed into ``size`` (Chromium's fake camera)."""
    import cv2

    w, h = size
    s = min(w / rgb.shape[1], h / rgb.shape[0])
    small = cv2.resize(rgb, (round(rgb.shape[1] * s), round(rgb.shape[0] * s)), interpolation=cv2.INTER_AREA)
    canvas = np.full((h, w, 3), 40, np.uint8)
    y0, x0 = (h - small.shape[0]) // 2, (w - small.shape[1]) // 2
    canvas[y0:y0 + small.shape[0], x0:x0 + small.shape[1]] = small
    yuv = cv2.cvtColor(canvas, cv2.COLOR_RGB2YUV_I420).tobytes()   # Y plane, then U, then V
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            f.write(b"FRAME\n" + yuv)


NOTEBOOK = {
    "cells": [{"cell_type": "code", "execution_count": None, "id": "demo", "metadata": {}, "outputs": [],
               "source": "from emolib.widgets import EmotionDemo\ndemo = EmotionDemo()\ndemo"}],
    "metadata": {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
                 "language_info": {"name": "python"}},
    "nbformat": 4, "nbformat_minor": 5,
}


@contextlib.contextmanager
def serving(cmd: list[str], cwd: Path, env: dict, log_path: Path, ready) -> Iterator[None]:
    """Run a server (``cmd``) until the block ends; ``ready()`` raises OSError until it answers (90 s at most)."""
    log = open(log_path, "wb")
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 90
        while True:
            try:
                ready()
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    log.flush()
                    pytest.fail(f"{cmd[2]} did not start:\n{log_path.read_text()[-3000:]}")
                time.sleep(0.5)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def screenshot_dir(tmp: Path) -> Path:
    """$EMOLIB_SCREENSHOTS (relative to the checkout; ``make screenshots``), else the test's folder."""
    shots = Path(os.environ.get("EMOLIB_SCREENSHOTS") or tmp)
    shots = shots if shots.is_absolute() else ROOT / shots
    shots.mkdir(parents=True, exist_ok=True)
    return shots


def chromium_with_camera(pw, tmp: Path):
    """Headless Chromium whose fake camera plays a video of grace_hopper.jpg (camera allowed)."""
    from emolib.predict import load_image, sample_paths

    video = tmp / "camera.y4m"
    write_y4m(video, load_image([p for p in sample_paths() if p.name == "grace_hopper.jpg"][0]))
    return pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS + [
        "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={video}"])


def record_fps(text: str, tmp: Path) -> None:
    """The browser's measured webcam rate: printed (pytest -s) and written next to the test's files."""
    line = f"browser webcam frame rate (640x480 fake camera, headless Chromium): {text}"
    print("\n" + line)
    (tmp / "webcam_fps.txt").write_text(line + "\n")


def require_chromium() -> None:
    """Go on when Chromium and Playwright are here; else skip (fail under CI) with what is missing."""
    require(Path(CHROMIUM).is_file(), f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    try:
        import playwright  # noqa: F401
    except ImportError:
        require(False, "the playwright Python package is not installed")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A token-less JupyterLab on a free localhost port with its own config/runtime dirs."""
    require_chromium()
    tmp = tmp_path_factory.mktemp("lab")
    work = tmp / "work"
    work.mkdir()
    (work / "demo.ipynb").write_text(json.dumps(NOTEBOOK))
    (tmp / "config" / "labconfig").mkdir(parents=True)   # no "news?" pop-up over the screenshots
    (tmp / "config" / "labconfig" / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp / "config"), JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp / "workspaces"), JUPYTERLAB_SETTINGS_DIR=str(tmp / "settings"),
               IPYTHONDIR=str(tmp / "ipython"), MPLBACKEND="Agg", TF_CPP_MIN_LOG_LEVEL="2")
    port = _free_port()
    cmd = ([sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
            "--IdentityProvider.token=", "--ServerApp.password=", f"--ServerApp.root_dir={work}",
            "--ServerApp.port_retries=0", "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
           + (["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []))
    url = f"http://127.0.0.1:{port}"
    with serving(cmd, work, env, tmp / "lab.log", lambda: urllib.request.urlopen(f"{url}/api/status", timeout=2)):
        yield url, tmp


def test_upload_and_webcam_in_chromium(lab):
    from playwright.sync_api import expect, sync_playwright

    from emolib.predict import sample_paths

    url, tmp = lab
    hopper = [p for p in sample_paths() if p.name == "grace_hopper.jpg"][0]
    shots = screenshot_dir(tmp)
    with sync_playwright() as pw:
        browser = chromium_with_camera(pw, tmp)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(f"{url}/lab/tree/demo.ipynb", timeout=60_000)
            cell = page.locator(".jp-Notebook .jp-Cell").first
            cell.wait_for(timeout=60_000)
            expect(page.locator(".jp-Notebook-ExecutionIndicator, #jp-main-statusbar")).not_to_have_count(0)
            page.wait_for_timeout(1500)   # let the kernel connect
            cell.locator(".jp-InputArea-editor").click()
            page.keyboard.press("Shift+Enter")
            status = page.locator(".emo-status")
            expect(status).to_be_visible(timeout=120_000)

            # --- upload a photo through the Photos button (its <input type=file>)
            with page.expect_file_chooser(timeout=30_000) as chooser:
                page.locator(".jp-OutputArea .jupyter-widgets.widget-upload").click()
            chooser.value.set_files(str(hopper))
            expect(status).to_contain_text("1 face(s) found", timeout=60_000)
            caption = page.locator(".emo-caption").first
            expect(caption).to_contain_text("grace_hopper.jpg")
            expect(caption).to_contain_text("%")
            expect(page.locator(".emo-gallery img")).to_have_count(2)   # annotated photo + 1 chart
            page.locator(".emo-gallery").scroll_into_view_if_needed()
            page.screenshot(path=str(shots / "demo_upload.png"))

            # --- webcam: Chromium's fake camera plays the Y4M video; the browser draws the boxes
            page.get_by_role("button", name="Start webcam").click()
            expect(page.locator(".emo-live-label")).to_contain_text("%", timeout=60_000)
            rate = page.locator(".emo-cam-fps")
            expect(rate).to_contain_text(" fps", timeout=30_000)
            page.wait_for_timeout(6000)   # the rate over the last 3 s, settled
            text = rate.inner_text()
            record_fps(text, tmp)
            assert float(text.split()[0]) > 0.5, text
            drawn = page.evaluate("""() => { const c = document.querySelector('.emo-overlay');
                const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                let n = 0; for (let i = 3; i < d.length; i += 4) n += d[i] > 0; return [c.width, n]; }""")
            assert drawn[0] == 640 and drawn[1] > 1000, drawn          # boxes and labels over the video
            expect(page.locator(".emo-fps")).to_contain_text(" fps", timeout=10_000)   # reported to the kernel
            page.get_by_role("button", name="Snapshot").click()    # a full-size frame, annotated in the kernel
            expect(status).to_have_text(re.compile(r"snapshot \d\d:\d\d:\d\d: 1 face\(s\)"), timeout=30_000)
            expect(page.locator(".emo-caption")).to_have_count(2)
            page.locator(".emo-camera").scroll_into_view_if_needed()
            page.screenshot(path=str(shots / "demo_webcam.png"))
            page.get_by_role("button", name="Stop webcam").click()
            expect(page.locator(".emo-fps")).to_have_text("", timeout=30_000)
        finally:
            browser.close()
