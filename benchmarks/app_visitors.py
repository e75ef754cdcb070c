"""N visitors open the app at once, each uploading a class photo: how long until each sees the page and its answer.

Starts ``python -m emolib app`` on a free port of 127.0.0.1 (loopback only; never another address) with
``--kernels K`` pre-started kernels, waits until Voila says its pool is filled, then opens N headless
Chromium visitors at the same moment (one browser, a separate context each, so N sessions). Each visitor
waits for the page (the demo's status line visible), uploads the shipped 12-face group photo and waits
for its labelled answer. It reports answers received, page-open time and upload-to-labelled time
(p50, p95, max), and the memory of the app's kernels (RSS and PSS per visitor's kernel, and of the whole
server). Everything is bounded: each visitor has ``--timeout`` seconds, and the app is stopped at the end.

The visitors' browsers run on the same machine as the app and take their share of its CPU: on a
classroom network the students' own computers do that work, so these are upper bounds.

    python benchmarks/app_visitors.py --visitors 10 30            # about 5 min on a 2-core machine
    python benchmarks/app_visitors.py --visitors 30 --kernels 8   # fewer pre-started kernels than visitors

Writes ``results/app_visitors.json`` (every run, keyed by visitors and kernels) and ``results/APP_VISITORS.md``.
Needs Chromium (``/usr/bin/chromium``), Playwright and Voila; not FER2013.
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


async def _visitor(browser, url: str, photo: Path, start: float, timeout_s: float) -> dict:
    """One visitor: open the page, upload the photo, wait for the labelled answer (the page stays open)."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    out: dict = {}
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


async def _visit(url: str, n: int, photo: Path, timeout_s: float, measure) -> tuple[list[dict], float, dict]:
    """N visitors at once; ``measure()`` runs once all are answered, while every page is still open."""
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            start = time.perf_counter()
            visits = await asyncio.gather(*[_visitor(browser, url, photo, start, timeout_s) for _ in range(n)])
            wall = time.perf_counter() - start
            return list(visits), wall, measure()
        finally:
            await browser.close()


def run(visitors: int, kernels: int, photo: Path, timeout_s: float, fill_timeout_s: float = 300) -> dict:
    """Serve the app with ``kernels`` pre-started kernels, send ``visitors`` visitors at once; the figures."""
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
            time.sleep(5)                      # let the pre-started kernels finish building the demo

            def measure() -> dict:
                text = log_path.read_text()
                used = set(re.findall(r"Using pre-heated kernel: ([0-9a-f-]+)", text))
                used |= set(re.findall(r"Kernel started: ([0-9a-f-]+)", text)) if not kernels else set()
                return _memory(proc.pid, used)

            before = _cpu_seconds(proc.pid)
            visits, wall, memory = asyncio.run(_visit(f"http://127.0.0.1:{port}/", visitors, photo, timeout_s,
                                                      measure))
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
    return {"visitors": visitors, "kernels": kernels, "answers": len(answered),
            "pool_filled_s": round(pool_filled_s, 1), "wall_s": round(wall, 1),
            "page_open_s": _percentiles([v["page_open_s"] for v in visits if "page_open_s" in v]),
            "upload_to_labelled_s": _percentiles([v["labelled_s"] for v in answered]),
            "memory": memory, "cpu_s_during_visits": cpu, "errors": errors[:5],
            "answer": answered[0]["answer"] if answered else None}


def write_markdown(runs: dict, machine: str) -> str:
    lines = ["# The app with N visitors at once (benchmarks/app_visitors.py)", "",
             f"Loopback on one machine ({machine}): the app (`python -m emolib app --kernels K`) and N headless "
             "Chromium visitors share its CPU. Each visitor opens the page and uploads the 12-face group photo "
             "(`emolib/assets/samples/group_of_12.jpg`) at the same moment. Times in seconds from the moment all "
             "visitors start; memory of the app's processes after every answer.", "",
             "| visitors | pre-started kernels | answers | page open p50 / p95 / max | upload to labelled "
             "p50 / p95 / max | per visitor's kernel (RSS / PSS) | app in all (RSS / PSS) | CPU s: app / browsers |",
             "|---|---|---|---|---|---|---|---|"]
    for r in sorted(runs.values(), key=lambda r: (r["visitors"], r["kernels"])):
        po, lab, m, c = r["page_open_s"], r["upload_to_labelled_s"], r["memory"], r["cpu_s_during_visits"]
        lines.append(f"| {r['visitors']} | {r['kernels']} | {r['answers']} of {r['visitors']} | "
                     f"{po['p50']} / {po['p95']} / {po['max']} | {lab['p50']} / {lab['p95']} / {lab['max']} | "
                     f"{m['visitor_kernel_rss_mib']} / {m['visitor_kernel_pss_mib']} MiB | "
                     f"{m['server_total_rss_mib']} / {m['server_total_pss_mib']} MiB | "
                     f"{round(c['server'] + c['kernels'])} / {round(c['browsers_and_rest'])} |")
    lines += ["", "CPU s: CPU seconds used while the visitors ran, by the app (Voila and every kernel, the pool's "
              "refills included) and by the rest of the machine (the visitors' Chromium, almost all of it). "
              "Answers: visitors whose photo came back labelled within the per-step timeout (180 s).", "",
              "Each run: `python benchmarks/app_visitors.py --visitors N --kernels K`, under the shared CPU lock "
              "(nothing else running). PSS shares each library's pages among the processes that map them: the "
              "memory a visitor adds."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog="About 2-3 min per run of 30 visitors on a 2-core machine.")
    ap.add_argument("--visitors", type=int, nargs="+", default=[10, 30], help="visitors at once, one run each")
    ap.add_argument("--kernels", type=int, default=None,
                    help="pre-started kernels (--kernels of the app; default: as many as visitors)")
    ap.add_argument("--timeout", type=float, default=180, help="seconds each visitor waits at most, per step")
    ap.add_argument("--no-write", action="store_true", help="print only; leave results/ as it is")
    args = ap.parse_args(argv)
    if not Path(CHROMIUM).is_file():
        print(f"error: Chromium not found at {CHROMIUM} (apt-get install chromium)", file=sys.stderr)
        return 2
    if any(n < 1 or n > 60 for n in args.visitors):
        print("error: --visitors are between 1 and 60 (each is a browser page on this machine)", file=sys.stderr)
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
        r = run(n, k, GROUP_SAMPLE, args.timeout)
        print(json.dumps(r))
        saved["runs"][f"{n} visitors, {k} kernels"] = r
    if not args.no_write:
        RESULTS.mkdir(exist_ok=True)
        path.write_text(json.dumps(saved, indent=1) + "\n")
        (RESULTS / "APP_VISITORS.md").write_text(write_markdown(saved["runs"], machine))
        print(f"wrote {path} and {RESULTS / 'APP_VISITORS.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
