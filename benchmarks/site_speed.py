"""Speed and size of the static site (``python -m emolib site``) in headless Chromium on this machine.

Builds the site into a temporary folder, serves it from localhost (Python's http.server, no compression)
and measures, with Chromium's fake camera (``--use-file-for-fake-video-capture``, a 640x480 Y4M made from
a sample photo, as ``tests/test_browser.py`` makes it):

* the webcam's frame rate with one face (``grace_hopper.jpg``) and with the 12-face group photo (the faces
  the browser and Python find in the frame reported too), over the last 3 s after 8 s of running;
* the first result: from the start of navigation to the first webcam frame with a face labelled, the page
  asked to start the webcam as soon as its button is enabled; and to the page being ready for a photo;
* the download: the bytes of every response while the page loads (nothing is fetched afterwards), and
  what they would be gzip-compressed (as many static hosts send them);
* the networks' time per call in the browser (LiteRT.js, WebAssembly) against emolib's Python LiteRT on
  the same files, one thread.

Prints the figures and writes ``benchmarks/results/SITE.md`` and ``site.json``. ``ONEDNN_MAX_CPU_ISA``
does not apply: it limits TensorFlow's oneDNN, and neither the browser (WebAssembly SIMD) nor LiteRT uses
TensorFlow, so the figures of the slower AVX2 machine are not emulated here.

    python benchmarks/site_speed.py [--seconds 8] [--out benchmarks/results]
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import gzip
import http.server
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests"))


@contextlib.contextmanager
def serve(folder: Path):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()


def camera_run(pw, url: str, video: Path, seconds: float, flags: list[str]) -> dict:
    """Open the page with ``video`` as the camera, start the webcam at once, and measure."""
    from test_browser import CHROMIUM

    browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=flags + [
        "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={video}"])
    try:
        page = browser.new_page()
        sizes: list[int] = []
        page.on("response", lambda r: sizes.append(int(r.headers.get("content-length", 0))))
        page.goto(url)
        page.locator("#camera:enabled").click(timeout=60_000)
        ready_ms = page.evaluate("() => window.emoSite.readyMs")
        page.wait_for_function("() => window.emoSite.firstResultMs !== null", timeout=60_000)
        first_ms = page.evaluate("() => window.emoSite.firstResultMs")
        page.wait_for_timeout(seconds * 1000)
        fps = page.evaluate("() => window.emoSite.fps")
        detected_fps = page.evaluate("() => window.emoSite.detectedFps")
        faces = len(page.evaluate("() => window.emoSite.liveResults"))
        views = page.evaluate("() => window.emoSite.webcamViews")
        got = page.evaluate("() => { const v = document.getElementById('video'); return `${v.videoWidth}x${v.videoHeight}`; }")
        timing = page.evaluate("""async () => { const p = window.emoSite.pipeline; const z = new Uint8Array(48 * 48);
            const c = new Float32Array(192 * 192 * 3); const best = async (f) => { let b = Infinity;
              for (let i = 0; i < 10; i++) { const t = performance.now(); await f(); b = Math.min(b, performance.now() - t); }
              return b; };
            return { six: await best(() => p.classify(z, 1, 6)), one: await best(() => p.classify(z, 1, 1)),
                     detector: await best(() => p.raw(c, 0.5)) }; }""")
        return dict(fps=round(fps, 1), detected_fps=round(detected_fps, 1), faces=faces, first_result_ms=round(first_ms), ready_ms=round(ready_ms),
                    download_bytes=sum(sizes), webcam_views=views, browser_ms=timing, page_frame=got)
    finally:
        browser.close()


def python_ms() -> dict:
    """emolib's LiteRT on the same files, one thread: the best of 10 calls of one face / one detector pass."""
    from emolib.faces import FaceDetector
    from emolib.predict import LITERT_1VIEW_PATH, LiteRTModel

    def best(f):
        f()
        out = float("inf")
        for _ in range(10):
            t = time.perf_counter()
            f()
            out = min(out, time.perf_counter() - t)
        return round(1000 * out, 2)

    x = np.full((1, 48, 48, 1), 128, np.float32)
    six, one = LiteRTModel(LITERT_1VIEW_PATH, 1, views=6), LiteRTModel(LITERT_1VIEW_PATH, 1)
    det = FaceDetector(workers=1)
    canvas = np.zeros((192, 192, 3), np.float32)
    return dict(six=best(lambda: six.predict_on_batch(x)), one=best(lambda: one.predict_on_batch(x)),
                detector=best(lambda: det._raw(canvas, 0.5)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=8.0, help="webcam running time before the rate is read")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"), help="folder for SITE.md and site.json")
    args = ap.parse_args()

    import cv2
    from playwright.sync_api import sync_playwright

    from emolib import site
    from emolib.faces import detect_faces
    from emolib.images import load_image, sample_paths
    from emolib.predict import GROUP_SAMPLE
    from machine import describe
    from test_browser import FLAGS, write_y4m

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        folder = site.build(tmp / "site")
        files = {str(p.relative_to(folder)): p.stat().st_size for p in folder.rglob("*") if p.is_file()}
        gz = {k: len(gzip.compress((folder / k).read_bytes(), 6)) for k in files}
        runs = {}
        load = os.getloadavg()      # the machine's load as the runs start (other work slows the browser)
        with serve(folder) as url, sync_playwright() as pw:
            hopper = [p for p in sample_paths() if p.name == "grace_hopper.jpg"][0]
            for name, photo, (w, h) in (("1 face", hopper, (640, 480)), ("12 faces", GROUP_SAMPLE, (640, 480))):
                video = tmp / f"{photo.stem}_{w}.y4m"
                write_y4m(video, load_image(photo), size=(w, h))
                run = camera_run(pw, url, video, args.seconds, FLAGS)
                with open(video, "rb") as f:           # the first frame, as Python sees it
                    f.readline()
                    f.readline()
                    yuv = np.frombuffer(f.read(w * h * 3 // 2), np.uint8).reshape(h * 3 // 2, w)
                run["python_faces"] = len(detect_faces(cv2.cvtColor(yuv, cv2.COLOR_YUV2RGB_I420)))
                run["frame"] = f"{w}x{h}"
                runs[name] = run
                print(f"{name}: {run['fps']} frames/s ({run['detected_fps']} detected; {run['faces']} faces labelled in the last frame, Python finds "
                      f"{run['python_faces']}), first result {run['first_result_ms']} ms after navigation "
                      f"(page ready {run['ready_ms']} ms), {run['download_bytes'] / 1e6:.2f} MB downloaded, "
                      f"webcam network with {run['webcam_views']} view(s)", flush=True)
        loaded = runs["1 face"]["download_bytes"]
        used = {k for k in files if not k.startswith("wasm/litert_wasm_compat")}   # one of the two builds loads
        result = dict(
            machine=describe()["machine"], chromium=pw_version(), load_average=[round(v, 1) for v in load],
            runs=runs, download_mb=round(loaded / 1e6, 2),
            download_gzip_mb=round(sum(gz[k] for k in used if not k.endswith((".md", ".txt"))) / 1e6, 2),
            site_mb=round(sum(files.values()) / 1e6, 2), python_ms=python_ms(),
            command="python benchmarks/site_speed.py")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "site.json").write_text(json.dumps(result, indent=1) + "\n")
    (out / "SITE.md").write_text(markdown(result))
    print(f"download {result['download_mb']} MB ({result['download_gzip_mb']} MB gzip-compressed); "
          f"browser ms per call {runs['1 face']['browser_ms']}, Python {result['python_ms']}")
    print(f"wrote {out / 'SITE.md'} and {out / 'site.json'}")
    return 0


def pw_version() -> str:
    import subprocess

    from test_browser import CHROMIUM

    try:
        return subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    except OSError:
        return "unknown"


def markdown(r: dict) -> str:
    one = r["runs"]["1 face"]
    b, p = one["browser_ms"], r["python_ms"]
    rows = "\n".join(
        f"| {name} ({run['frame']} video, {run['page_frame']} in the page) | {run['fps']} ({run['detected_fps']}) | {run['faces']} (Python: {run['python_faces']}) | {run['webcam_views']} | "
        f"{run['first_result_ms'] / 1000:.2f} s | {run['ready_ms'] / 1000:.2f} s |"
        for name, run in r["runs"].items())
    return f"""# The static site in the browser (benchmarks/site_speed.py)

{r['machine']}, load average {' / '.join(map(str, r['load_average']))} (1 / 5 / 15 min) as the runs
started; {r['chromium']}, headless, no GPU (LiteRT.js runs on WebAssembly). The site
(`python -m emolib site`) served from localhost by Python's http.server; the webcam is Chromium's fake
camera playing a 640x480 video of a sample photo (`grace_hopper.jpg`, or the 12-face `group_of_12.jpg`,
960x720 scaled to 640x480, where its smallest faces fall under the 40-px minimum: Python's detector finds 10 of
the 12 in that frame). (A 960x720 video does not show more: Chromium scales it to the 640x480 the page asks for.) Command: `{r['command']}`.

| camera | frames/s labelled (of them detected) | faces labelled (Python on the same frame) | webcam views | first result | page ready |
|---|---|---|---|---|---|
{rows}

*Frames/s*: the overlay's rate over the last 3 s; as `emolib.predict.predict_video` does, the faces are
detected in every 2nd frame (`DETECT_EVERY`) and moved on at their last speed in between; in brackets, the
frames that went through the detector. Each face is classified again every 3rd frame (`RECLASSIFY`, as the
notebook widget does). The fake camera plays its video at 10 frames/s: the page labels the latest frame.

*First result*: from the start of navigation to the first webcam frame with a labelled face (the test
starts the webcam as soon as its button is enabled). *Page ready*: the networks compiled, a photo can be
chosen. *Webcam views*: the page runs the shipped network alone (`emonet_1view.tflite`) and makes the
test-time views around it as `emolib.predict.LiteRTModel(views=...)` does; photos get 6 views, the webcam the
most views (6, 2 or 1) that classify one face within 10 ms in that browser, timed when the page loads, as
`emolib.predict.choose_views` does in Python.

**Download**: {r['download_mb']} MB while the page loads (every file, uncompressed, as http.server sends
them; nothing is fetched afterwards), {r['download_gzip_mb']} MB if the host gzip-compresses. The built
folder holds {r['site_mb']} MB (two WebAssembly builds; a browser loads one).

**Time per face** (best of 10, one thread): the network with 6 views {b['six']:.1f} ms in the browser,
{p['six']:.1f} ms in Python's LiteRT (`LiteRTModel(emonet_1view.tflite, views=6)`, the views in one batch);
1 view {b['one']:.1f} against {p['one']:.1f} ms; one BlazeFace pass (192x192) {b['detector']:.1f} against {p['detector']:.1f} ms.

**The runtime.** LiteRT.js (`@litertjs/core` 2.5.3) runs the shipped `.tflite` files as they are (only the
emotion network's batch is fixed at 1: LiteRT.js 2.5 refuses a dynamic batch; `emolib.site.fixed_batch` changes
nothing else and `tests/test_site.py` checks that the copy's probabilities are the file's), so the browser's
answers are Python's by construction: the same faces and labels on the sample photos, and the PrivateTest
agreement `tests/test_site.py` measures. `onnxruntime-web` and MediaPipe's `@mediapipe/tasks-vision` were not
measured: the first needs a converted copy of the int8 network (`tf2onnx`), a different file from the one
Python runs; the second runs MediaPipe's own detection graph around BlazeFace, not emolib's tiles for small faces
and its merging of them. Nothing here compares their size or speed.

`ONEDNN_MAX_CPU_ISA=AVX2` would not change these figures: it limits TensorFlow's oneDNN, which neither the
browser nor LiteRT uses; the slower AVX2 machine was not measured.
"""


if __name__ == "__main__":
    sys.exit(main())
