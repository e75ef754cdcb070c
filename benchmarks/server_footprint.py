"""Memory and CPU of one student's kernel running a notebook's default path (docs/TEACHING.md, "Sizing").

Runs each notebook top to bottom in a fresh kernel, as a student's server does (nbclient, cells tagged
``nbval-skip`` left out, as in the test suite: the live webcam), and samples the kernel's resident memory
every 0.2 s. Prints and records, per notebook: peak RSS of the kernel, its CPU seconds (user + system), the
wall time, and so the mean cores it kept busy. A single-user Jupyter server adds its own process (measured
here too, idle: ``jupyter server`` alone).

    python benchmarks/server_footprint.py                       # every numbered notebook
    python benchmarks/server_footprint.py 01_exploring_fer2013  # one

Needs FER2013 (``EMOLIB_DATA``) for notebooks 01-04. Results: ``benchmarks/results/server_footprint.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results" / "server_footprint.json"


def run_notebook(path: Path) -> dict:
    import nbformat
    import psutil
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    nb.cells = [c for c in nb.cells if "nbval-skip" not in c.metadata.get("tags", [])]
    client = NotebookClient(nb, timeout=1800, kernel_name="python3", allow_errors=False,
                            resources={"metadata": {"path": str(path.parent)}})
    peak, stop = [0], threading.Event()
    start = time.perf_counter()
    with client.setup_kernel():
        proc = psutil.Process(client.km.provisioner.process.pid)

        def sample():
            while not stop.is_set():
                try:
                    peak[0] = max(peak[0], proc.memory_info().rss)
                except psutil.Error:
                    return
                time.sleep(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        for i, cell in enumerate(nb.cells):
            if cell.cell_type == "code":
                client.execute_cell(cell, i)
        cpu = proc.cpu_times()
        stop.set()
        sampler.join()
    wall = time.perf_counter() - start
    cpu_s = cpu.user + cpu.system
    return {"peak_rss_mib": round(peak[0] / 2**20), "cpu_s": round(cpu_s, 1), "wall_s": round(wall, 1),
            "mean_cores": round(cpu_s / wall, 2)}


def idle_server_rss() -> int:
    """RSS (MiB) of a bare ``jupyter server`` 10 s after it starts (no kernel)."""
    import psutil

    proc = subprocess.Popen([sys.executable, "-m", "jupyter", "server", "--no-browser", "--port=0",
                             "--ServerApp.token=x", *(["--allow-root"] if os.geteuid() == 0 else [])],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(10)
        return round(psutil.Process(proc.pid).memory_info().rss / 2**20)
    finally:
        proc.terminate()
        proc.wait(20)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", help="notebook names without .ipynb (default: every numbered one)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO / "benchmarks"))
    from machine import describe

    names = args.notebooks or [p.stem for p in sorted((REPO / "notebooks").glob("0*.ipynb"))]
    data = json.loads(args.out.read_text()) if args.out.is_file() else {}
    if data.get("machine") not in (None, describe()["machine"]):
        data = {}
    data |= {"machine": describe()["machine"], "command": "python benchmarks/server_footprint.py",
             "date": time.strftime("%Y-%m-%d"), "load_average_at_start": round(os.getloadavg()[0], 2)}
    data["idle_server_rss_mib"] = idle_server_rss()
    print(f"idle jupyter server: {data['idle_server_rss_mib']} MiB")
    for name in names:
        result = run_notebook(REPO / "notebooks" / f"{name}.ipynb")
        data.setdefault("notebooks", {})[name] = result
        print(f"{name}: peak {result['peak_rss_mib']} MiB, {result['cpu_s']:.0f} CPU s in {result['wall_s']:.0f} s "
              f"({result['mean_cores']:.2f} cores)")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(data, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
