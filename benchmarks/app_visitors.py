"""N visitors open the app at once, each uploading a class photo: how long until each sees the page and its answer.

Starts ``python -m emolib app`` on a free port of 127.0.0.1 (loopback only; never another address) with
``--kernels K`` pre-started kernels, waits until Voila says its pool is filled, then sends N visitors at the
same moment. Each visitor opens the page (the demo visible), uploads the shipped 12-face group photo and waits
for its labelled answer. It reports answers received, page-open time and upload-to-labelled time (p50, p95,
max), and the memory of the app's kernels (RSS and PSS per visitor's kernel, and of the whole server).
Everything is bounded: each visitor has ``--timeout`` seconds, and the app is stopped at the end.

Two kinds of visitor, because in a classroom every student's browser runs on the student's own computer,
while here they would all share the app's two cores:

* ``--browsers B`` of the N are headless Chromium pages (one browser, a context each): the page open ends when
  the demo's status line is visible, as a student sees it.
* the other N - B are light visitors that send the server what the page sends, and nothing heavier: they
  fetch the page and its scripts, open the kernel's websocket (the ``v1.kernel.websocket.jupyter.org``
  protocol the page uses), ask for every widget's state as the page's widget manager does
  (``jupyter.widget.control``), then upload the photo in 4 MiB pieces as ``emolib/static/upload.js`` does
  and wait for the status line's "face(s) found". Their page open ends when the widgets' state has arrived.
  They cost the machine almost nothing, so the app gets the two cores as it would in class.

    python benchmarks/app_visitors.py --visitors 10 30            # 1 Chromium visitor, the rest light
    python benchmarks/app_visitors.py --visitors 10 --browsers 10 # every visitor a Chromium page
    python benchmarks/app_visitors.py --visitors 30 --kernels 8   # fewer pre-started kernels than visitors

Writes ``results/app_visitors.json`` (every run, keyed by visitors, browsers and kernels) and
``results/APP_VISITORS.md``. Needs Chromium (``/usr/bin/chromium``) when B > 0, Playwright and Voila; not FER2013.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _percentiles(values: list[float]) -> dict:
    if not values:
        return {"p50": None, "p95": None, "max": None}
    a = np.asarray(values)
    return {"p50": round(float(np.percentile(a, 50)), 2), "p95": round(float(np.percentile(a, 95)), 2),
            "max": round(float(a.max()), 2)}


def _memory(server_pid: int, kernel_ids: set[str]) -> dict:
    """RSS/PSS (MiB) of the server, and of each kernel process whose connection file names one of ``kernel_ids``."""
    import psutil

    server = psutil.Process(server_pid)
    procs = [server] + server.children(recursive=True)
    total_rss = total_pss = 0.0
    visitors_rss, visitors_pss = [], []
    for p in procs:
        try:
            info = p.memory_full_info()
            cmd = " ".join(p.cmdline())
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        rss, pss = info.rss / 2**20, getattr(info, "pss", info.rss) / 2**20
        total_rss, total_pss = total_rss + rss, total_pss + pss
        if any(k in cmd for k in kernel_ids):
            visitors_rss.append(rss)
            visitors_pss.append(pss)
    return {"processes": len(procs), "server_total_rss_mib": round(total_rss), "server_total_pss_mib": round(total_pss),
            "visitor_kernel_rss_mib": round(float(np.mean(visitors_rss))) if visitors_rss else None,
            "visitor_kernel_pss_mib": round(float(np.mean(visitors_pss))) if visitors_pss else None,
            "visitor_kernels_measured": len(visitors_rss)}


def _cpu_seconds(server_pid: int) -> dict:
    """CPU seconds used so far: by the Voila server process, by its kernels (living ones), by the whole machine."""
    import psutil

    server = psutil.Process(server_pid)
    kernels = 0.0
    for p in server.children(recursive=True):
        try:
            t = p.cpu_times()
            kernels += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    t, m = server.cpu_times(), psutil.cpu_times()
    return {"server": t.user + t.system, "kernels": kernels, "machine": m.user + m.system + m.nice}


def _wait_until_idle(server_pid: int, timeout_s: float, cpu_per_s: float = 0.05) -> None:
    """Wait until the app and its kernels use less than ``cpu_per_s`` CPU seconds per second (or ``timeout_s``)."""
    deadline = time.time() + timeout_s
    last = _cpu_seconds(server_pid)
    while time.time() < deadline:
        time.sleep(1)
        now = _cpu_seconds(server_pid)
        if now["server"] + now["kernels"] - last["server"] - last["kernels"] < cpu_per_s:
            return
        last = now


async def _visitor(browser, url: str, photo: Path, start: float, timeout_s: float) -> dict:
    """One visitor: open the page, upload the photo, wait for the labelled answer (the page stays open)."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    out: dict = {"kind": "chromium"}
    try:
        await page.goto(url, timeout=timeout_s * 1000, wait_until="commit")
        await page.locator(".emo-status").wait_for(state="visible", timeout=timeout_s * 1000)
        out["page_open_s"] = time.perf_counter() - start
        t = time.perf_counter()
        async with page.expect_file_chooser(timeout=timeout_s * 1000) as chooser:
            await page.locator(".widget-upload").click()
        await (await chooser.value).set_files(str(photo))
        await page.locator(".emo-status", has_text=re.compile(r"face\(s\) found")).wait_for(timeout=timeout_s * 1000)
        out["labelled_s"] = time.perf_counter() - t
        out["answer"] = await page.locator(".emo-status").inner_text()
    except Exception as err:  # a visitor who got no answer in time is counted, not fatal
        out["error"] = f"{type(err).__name__}: {str(err).splitlines()[0][:200]}"
    return out


def _kernel_message(msg_type: str, content: dict, buffers: tuple = (), metadata: dict | None = None) -> bytes:
    """A shell-channel message in the websocket protocol the page uses (``v1.kernel.websocket.jupyter.org``)."""
    from jupyter_server.services.kernels.connection.base import serialize_msg_to_ws_v1

    header = {"msg_id": uuid.uuid4().hex, "msg_type": msg_type, "username": "visitor", "session": uuid.uuid4().hex,
              "date": "", "version": "5.3"}
    parts = [json.dumps(p).encode() for p in (header, {}, metadata or {}, content)] + [bytes(b) for b in buffers]
    return serialize_msg_to_ws_v1(parts, "shell")


def _read_kernel_message(frame: bytes) -> tuple[str, dict]:
    """(msg_type, content) of a message the server sent over the websocket."""
    from jupyter_server.services.kernels.connection.base import deserialize_msg_from_ws_v1

    _, parts = deserialize_msg_from_ws_v1(frame)
    return json.loads(parts[0])["msg_type"], json.loads(parts[3])


async def _light_visitor(url: str, photo: Path, start: float, timeout_s: float, http) -> dict:
    """One light visitor: what the page sends the server, from the page and its scripts to the labelled photo."""
    from tornado.websocket import websocket_connect

    out: dict = {"kind": "light"}
    try:
        async with asyncio.timeout(timeout_s):
            html = (await http.fetch(url, request_timeout=timeout_s)).body.decode()
            kernel = re.search(r'"kernelId": "([0-9a-f-]+)"', html).group(1)
            host = url.split("/", 3)[2]
            extensions = re.search(r'"fullLabextensionsUrl": "([^"]+)"', html).group(1)
            assets = re.findall(r'<script[^>]*src="(/[^"]+)"', html) + re.findall(r'<link[^>]*href="(/[^"]+)"', html)
            assets += [f"{extensions}/{name}/{load}" for load, name in
                       re.findall(r'"load": "([^"]+)", "name": "([^"]+)"', html)]
            await asyncio.gather(*[http.fetch(f"http://{host}{a}", request_timeout=timeout_s) for a in assets])
            ws = await websocket_connect(f"ws://{host}/api/kernels/{kernel}/channels?session_id={uuid.uuid4()}",
                                         subprotocols=["v1.kernel.websocket.jupyter.org"],
                                         max_message_size=256 * 2**20)
            control = uuid.uuid4().hex
            await ws.write_message(_kernel_message("comm_open", {"comm_id": control, "data": {},
                                                                 "target_name": "jupyter.widget.control"},
                                                   metadata={"version": "1.0.0"}), binary=True)
            await ws.write_message(_kernel_message("comm_msg", {"comm_id": control,
                                                                "data": {"method": "request_states"}}), binary=True)
            while True:
                kind, content = _read_kernel_message(await ws.read_message())
                if kind == "comm_msg" and content["data"].get("method") == "update_states":
                    states = content["data"]["states"]
                    break
            out["page_open_s"] = time.perf_counter() - start
            upload = next(k for k, s in states.items() if "chunk_bytes" in s["state"])
            status = next(k for k, s in states.items() if "emo-status" in s["state"].get("_dom_classes", ()))
            piece = states[upload]["state"]["chunk_bytes"]
            data = photo.read_bytes()
            t = time.perf_counter()

            async def send(message: dict, buffers: tuple = ()) -> None:
                await ws.write_message(_kernel_message("comm_msg", {"comm_id": upload, "data": {
                    "method": "custom", "content": message}}, buffers), binary=True)

            await send({"type": "start", "batch": 1, "total": 1, "refused": [],
                        "files": [{"name": photo.name, "size": len(data), "type": "image/jpeg"}]})
            for offset in range(0, len(data), piece):
                await send({"type": "chunk", "batch": 1, "index": 0, "offset": offset}, (data[offset:offset + piece],))
            await send({"type": "end", "batch": 1})
            while True:
                frame = await ws.read_message()
                if frame is None:
                    raise ConnectionError("the server closed the websocket")
                kind, content = _read_kernel_message(frame)
                value = content.get("data", {}).get("state", {}).get("value", "") if kind == "comm_msg" else ""
                if content.get("comm_id") == status and "face(s) found" in str(value):
                    out["labelled_s"] = time.perf_counter() - t
                    out["answer"] = value
                    break
            out["socket"] = ws                    # kept open, as a visitor's page stays open
    except Exception as err:  # a visitor who got no answer in time is counted, not fatal
        out["error"] = f"{type(err).__name__}: {(str(err).splitlines() or [''])[0][:200]}"
    return out


async def _visit(url: str, n: int, browsers: int, photo: Path, timeout_s: float,
                 measure) -> tuple[list[dict], float, dict]:
    """N visitors at once, ``browsers`` of them Chromium pages; ``measure()`` runs once all are answered,
    while every page is still open."""
    from playwright.async_api import async_playwright
    from tornado.httpclient import AsyncHTTPClient

    http = AsyncHTTPClient(max_clients=4 * n)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS) if browsers else None
        try:
            start = time.perf_counter()
            visits = await asyncio.gather(
                *[_visitor(browser, url, photo, start, timeout_s) for _ in range(browsers)],
                *[_light_visitor(url, photo, start, timeout_s, http) for _ in range(n - browsers)])
            wall = time.perf_counter() - start
            figures = measure()
            for v in visits:
                if "socket" in v:
                    v.pop("socket").close()
            return list(visits), wall, figures
        finally:
            if browser is not None:
                await browser.close()


def run(visitors: int, browsers: int, kernels: int, photo: Path, timeout_s: float,
        fill_timeout_s: float = 300) -> dict:
    """Serve the app with ``kernels`` pre-started kernels, send ``visitors`` visitors at once (``browsers`` of
    them in Chromium, the others light); the figures."""
    from emolib.images import GROUP_SAMPLE  # noqa: F401  (the package is importable: the app will be)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "work").mkdir()
        env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp / "config"), JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
                   IPYTHONDIR=str(tmp / "ipython"), MPLBACKEND="Agg", TF_CPP_MIN_LOG_LEVEL="2")
        port = _free_port()
        log_path = tmp / "app.log"
        cmd = [sys.executable, "-m", "emolib", "app", "--ip=127.0.0.1", f"--port={port}", "--no-browser",
               f"--kernels={kernels}"]
        with open(log_path, "wb") as log:
            t0 = time.perf_counter()
            proc = subprocess.Popen(cmd, cwd=tmp / "work", env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.time() + fill_timeout_s
            ready = f"filled with {kernels} kernel" if kernels else "is running at"
            while ready not in log_path.read_text():
                if proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"the app did not get ready:\n{log_path.read_text()[-3000:]}")
                time.sleep(0.5)
            pool_filled_s = time.perf_counter() - t0
            _wait_until_idle(proc.pid, fill_timeout_s)   # the pre-started kernels have built the demo
            pool_ready_s = time.perf_counter() - t0

            def measure() -> dict:
                text = log_path.read_text()
                used = set(re.findall(r"Using pre-heated kernel: ([0-9a-f-]+)", text))
                used |= set(re.findall(r"Kernel started: ([0-9a-f-]+)", text)) if not kernels else set()
                return _memory(proc.pid, used)

            before = _cpu_seconds(proc.pid)
            visits, wall, memory = asyncio.run(_visit(f"http://127.0.0.1:{port}/", visitors, browsers, photo,
                                                      timeout_s, measure))
            after = _cpu_seconds(proc.pid)
            cpu = {k: round(after[k] - before[k], 1) for k in after}
            cpu["browsers_and_rest"] = round(cpu["machine"] - cpu["server"] - cpu["kernels"], 1)
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
    answered = [v for v in visits if "labelled_s" in v]
    errors = sorted({v["error"] for v in visits if "error" in v})
    in_chromium = [v["page_open_s"] for v in visits if "page_open_s" in v and v["kind"] == "chromium"]
    return {"visitors": visitors, "browsers": browsers, "kernels": kernels, "answers": len(answered),
            "pool_filled_s": round(pool_filled_s, 1), "pool_ready_s": round(pool_ready_s, 1), "wall_s": round(wall, 1),
            "page_open_s": _percentiles([v["page_open_s"] for v in visits if "page_open_s" in v]),
            "page_open_chromium_s": _percentiles(in_chromium),
            "upload_to_labelled_s": _percentiles([v["labelled_s"] for v in answered]),
            "memory": memory, "cpu_s_during_visits": cpu, "errors": errors[:5],
            "answer": answered[0]["answer"] if answered else None}


def run_key(visitors: int, browsers: int, kernels: int) -> str:
    """The key of a run in ``results/app_visitors.json``.

    >>> run_key(30, 30, 30), run_key(30, 1, 30)
    ('30 visitors, 30 kernels', '30 visitors, 1 in Chromium, 30 kernels')
    """
    return f"{visitors} visitors, {kernels} kernels" if browsers == visitors else \
        f"{visitors} visitors, {browsers} in Chromium, {kernels} kernels"


def write_markdown(runs: dict, machine: str) -> str:
    lines = ["# The app with N visitors at once (benchmarks/app_visitors.py)", "",
             f"Loopback on one machine ({machine}). The app (`python -m emolib app --kernels K`) gets N visitors "
             "at the same moment; each opens the page and uploads the 12-face group photo "
             "(`emolib/assets/samples/group_of_12.jpg`). *In Chromium*: how many of the N are headless Chromium "
             "pages, whose page open ends when the demo is visible; the others are light visitors that send the "
             "server what the page sends (the page and its scripts, the kernel's websocket, the widgets' state, "
             "the photo in 4 MiB pieces) at almost no cost to the machine, as when every student's browser runs on "
             "the student's own computer. Their page open ends when the widgets' state has arrived. Times in "
             "seconds from the moment all visitors start; memory of the app's processes after every answer.", "",
             "| visitors | in Chromium | pre-started kernels | answers | page open p50 / p95 / max | "
             "in Chromium: page open p50 / max | upload to labelled p50 / p95 / max | per visitor's kernel "
             "(RSS / PSS) | app in all (RSS / PSS) | CPU s: app / rest |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(runs.values(), key=lambda r: (r["visitors"], r.get("browsers", r["visitors"]), r["kernels"])):
        po, lab, m, c = r["page_open_s"], r["upload_to_labelled_s"], r["memory"], r["cpu_s_during_visits"]
        browsers = r.get("browsers", r["visitors"])
        pc = r.get("page_open_chromium_s", po)
        lines.append(f"| {r['visitors']} | {browsers} | {r['kernels']} | {r['answers']} of {r['visitors']} | "
                     f"{po['p50']} / {po['p95']} / {po['max']} | {pc['p50']} / {pc['max']} | "
                     f"{lab['p50']} / {lab['p95']} / {lab['max']} | "
                     f"{m['visitor_kernel_rss_mib']} / {m['visitor_kernel_pss_mib']} MiB | "
                     f"{m['server_total_rss_mib']} / {m['server_total_pss_mib']} MiB | "
                     f"{round(c['server'] + c['kernels'])} / {round(c['browsers_and_rest'])} |")
    lines += ["", "CPU s: CPU seconds used while the visitors ran, by the app (Voila and every kernel, the pool's "
              "refills included) and by the rest of the machine (the Chromium visitors, almost all of it, and the "
              "light visitors). Answers: visitors whose photo came back labelled within the per-step timeout "
              "(180 s).", "",
              "Each run: `python benchmarks/app_visitors.py --visitors N --browsers B --kernels K`, under the "
              "shared CPU lock (nothing else running). PSS shares each library's pages among the processes that "
              "map them: the memory a visitor adds."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog="About 1 min per run of 30 visitors (1 in Chromium) on a 2-core machine.")
    ap.add_argument("--visitors", type=int, nargs="+", default=[10, 30], help="visitors at once, one run each")
    ap.add_argument("--browsers", type=int, default=1,
                    help="how many of the visitors are headless Chromium pages, the rest light visitors (default 1)")
    ap.add_argument("--kernels", type=int, default=None,
                    help="pre-started kernels (--kernels of the app; default: as many as visitors)")
    ap.add_argument("--timeout", type=float, default=180, help="seconds each visitor waits at most, per step")
    ap.add_argument("--no-write", action="store_true", help="print only; leave results/ as it is")
    args = ap.parse_args(argv)
    if args.browsers > 0 and not Path(CHROMIUM).is_file():
        print(f"error: Chromium not found at {CHROMIUM} (apt-get install chromium)", file=sys.stderr)
        return 2
    if any(n < 1 or n > 60 for n in args.visitors):
        print("error: --visitors are between 1 and 60", file=sys.stderr)
        return 2
    if args.browsers < 0:
        print("error: --browsers is a number of visitors, 0 or more", file=sys.stderr)
        return 2
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from machine import describe

    from emolib.images import GROUP_SAMPLE

    machine = describe()["machine"]
    path = RESULTS / "app_visitors.json"
    saved = json.loads(path.read_text()) if path.exists() else {"machine": machine, "runs": {}}
    if saved.get("machine") != machine:
        saved = {"machine": machine, "runs": {}}
    for n in args.visitors:
        k = args.kernels if args.kernels is not None else n
        b = min(args.browsers, n)
        r = run(n, b, k, GROUP_SAMPLE, args.timeout)
        print(json.dumps(r))
        saved["runs"][run_key(n, b, k)] = r
    if not args.no_write:
        RESULTS.mkdir(exist_ok=True)
        path.write_text(json.dumps(saved, indent=1) + "\n")
        (RESULTS / "APP_VISITORS.md").write_text(write_markdown(saved["runs"], machine))
        print(f"wrote {path} and {RESULTS / 'APP_VISITORS.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
