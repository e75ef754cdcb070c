"""One submission's autograding, as a task on a Dask worker (tools/grade.py sends it; ``make grade``).

It lives in emolib, not in tools/, so that a worker on any machine of a cluster imports it by name: a worker
needs the course's environment anyway (nbgrader, ipykernel and emolib run the students' notebooks).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


#: The environment variables that set how many threads TensorFlow and OpenMP start in a kernel.
THREAD_VARS = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS")


def thread_env(threads: int | None) -> dict[str, str]:
    """The environment that limits TensorFlow (and OpenMP) in a kernel to ``threads`` threads; {} for None (their
    own choice: every core, which several kernels on one machine then share).

    >>> thread_env(2)["TF_NUM_INTRAOP_THREADS"], thread_env(None)
    ('2', {})
    """
    if threads is None:
        return {}
    return {key: str(threads) for key in THREAD_VARS}


def grade_one(work: str, assignment: str, student: str, limit_s: float, uid: int | None = None,
              gid: int | None = None, threads: int | None = None) -> dict:
    """Run ``nbgrader autograde ASSIGNMENT --student STUDENT`` in the working copy ``work``, in a process group
    of its own (as ``uid``/``gid`` when given), killed after ``limit_s`` seconds; ``{"student", "status",
    "seconds", "log", "work"}``, where ``status`` is ``"ok"``, ``"nbgrader failed (exit N)"`` or
    ``"killed after N s (time limit)"``. ``threads``: TensorFlow threads of the kernels that run the notebooks
    (:func:`thread_env`; a sandboxed kernel gets them from its kernel spec, ``tools/grade.py``).

    >>> grade_one("/no/such/course", "a1", "alice", 60)["status"]  # doctest: +SKIP
    'nbgrader failed (exit 1)'
    """
    work_p = Path(work)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "DASK_"))}
    env |= {"HOME": str(work_p / "home"), "JUPYTER_RUNTIME_DIR": str(work_p / "run"),
            "TMPDIR": str(work_p / "run"),  # nbclient writes the kernel's connection file there: the sandbox sees it
            "JUPYTER_DATA_DIR": str(work_p / "jupyter"), "JUPYTER_CONFIG_DIR": str(work_p / "home" / ".jupyter"),
            "JUPYTER_PATH": str(work_p / "jupyter"),
            "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")}
    env.pop("EMOLIB_TRAIN", None)  # grading never trains
    env |= thread_env(threads)
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "nbgrader", "autograde", assignment, "--student", student, "--force"],
                            cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, user=uid, group=gid, extra_groups=[] if uid is not None else None)
    try:
        log, _ = proc.communicate(timeout=limit_s)
        status = "ok" if proc.returncode == 0 else f"nbgrader failed (exit {proc.returncode})"
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        log, _ = proc.communicate()
        status = f"killed after {limit_s:g} s (time limit)"
    return {"student": student, "status": status, "seconds": round(time.perf_counter() - start, 1),
            "log": log[-4000:], "work": work}
