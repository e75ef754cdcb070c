"""tools/grade.py: parallel autograding on Dask gives exactly nbgrader's serial grades, in a sandbox.

A tiny assignment (two exercises, three checks: 1 + 2 + 2 points) gets seven submissions: ``full``, ``empty``
(untouched), ``partly`` (one exercise wrong), ``raises`` (an exception in an answer), ``loops`` (an endless
loop in an answer), ``deleted`` (a check cell deleted) and ``snoop`` (full answers, and a cell that tries to read
another submission, the gradebook and the instructor's source, write outside its folder, and reach the network).
A ``dask scheduler`` on loopback and two ``dask worker`` processes grade them with ``python tools/grade.py
--scheduler``, together with a second assignment that two of the students submitted (one command, several
assignments side by side); plain ``nbgrader autograde`` grades a copy of the course serially. Every check's score must be
the same, each of the snooping attempts refused in the sandbox (and, the control, not refused without it), and
four malformed submissions (missing, renamed, not JSON, too large) and one whose kernel dies each get a line in
the report and 0 points.
"""
from __future__ import annotations

import importlib.util
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

import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
ON_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
A = "t1"
TIME_LIMIT = 8  # seconds per cell: the endless loop is interrupted after it



def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _meta(grade_id, **kw):
    return {"nbgrader": {"grade_id": grade_id, "schema_version": 3, "locked": False, "solution": False,
                         "grade": False, **kw}}


def instructor_notebook() -> nbformat.NotebookNode:
    """The assignment's notebook (also used, as ``t2.ipynb``, for a second assignment graded in the same run)."""
    cells = [
        nbformat.v4.new_markdown_cell("Two small exercises."),
        nbformat.v4.new_code_cell("def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
                                  metadata=_meta("t1-ex1", solution=True)),
        nbformat.v4.new_code_cell("assert double(2) == 4", metadata=_meta("t1-ex1-check", grade=True, locked=True, points=1)),
        nbformat.v4.new_code_cell("assert double(-3) == -6", metadata=_meta("t1-ex1-check2", grade=True, locked=True, points=2)),
        nbformat.v4.new_code_cell("def shout(s):\n    ### BEGIN SOLUTION\n    return s.upper() + '!'\n    ### END SOLUTION",
                                  metadata=_meta("t1-ex2", solution=True)),
        nbformat.v4.new_code_cell("assert shout('hi') == 'HI!'", metadata=_meta("t1-ex2-check", grade=True, locked=True, points=2)),
    ]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def snoop_code(course: Path, port: int) -> str:
    """A cell that tries what a sandboxed submission must not do; prints REFUSED or DONE for each."""
    attempts = {
        "read another submission": f"open({str(course / 'submitted' / 'full' / A / (A + '.ipynb'))!r}).read()",
        "read the course's gradebook": f"open({str(course / 'gradebook.db')!r}, 'rb').read()",
        "read its working copy's gradebook": "open('../../../gradebook.db', 'rb').read()",
        "read the instructor's source": f"open({str(course / 'source' / A / (A + '.ipynb'))!r}).read()",
        "list the other submissions": f"os.listdir({str(course / 'submitted')!r})",
        "write into the course folder": f"open({str(course / 'snooped.txt')!r}, 'w').write('x')",
        "write beside its working copy": "open('../../../snooped.txt', 'w').write('x')",
        "reach the internet": "socket.create_connection(('1.1.1.1', 53), timeout=3)",
        "reach the Dask scheduler on loopback": f"socket.create_connection(('127.0.0.1', {port}), timeout=3)",
    }
    lines = ["import os, socket", "for what, how in ["]
    lines += [f"    ({k!r}, {v!r})," for k, v in attempts.items()]
    lines += ["]:", "    try:", "        eval(how)", "        print('DONE', what)",
              "    except Exception as err:", "        print('REFUSED', what, type(err).__name__)"]
    return "\n".join(lines)


def answer(released: nbformat.NotebookNode, kind: str, course: Path, port: int) -> nbformat.NotebookNode:
    nb = nbformat.reads(nbformat.writes(released), as_version=4)
    by_id = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells}
    stub = re.compile(r"# YOUR CODE HERE\n\s*raise NotImplementedError\(\)")
    right = {"t1-ex1": "return 2 * x", "t1-ex2": "return s.upper() + '!'"}
    if kind in ("full", "snoop", "deleted", "partly"):
        for gid, text in right.items():
            by_id[gid].source = stub.sub(text, by_id[gid].source)
    if kind == "partly":
        by_id["t1-ex1"].source = "def double(x):\n    return x + 2"  # passes double(2) == 4 only
    if kind == "raises":
        by_id["t1-ex1"].source = "raise RuntimeError('my answer crashes')"
        by_id["t1-ex2"].source = stub.sub(right["t1-ex2"], by_id["t1-ex2"].source)
    if kind == "loops":
        by_id["t1-ex1"].source = "while True:\n    pass"
        by_id["t1-ex2"].source = stub.sub(right["t1-ex2"], by_id["t1-ex2"].source)
    if kind == "deleted":
        nb.cells.remove(by_id["t1-ex1-check2"])
    if kind == "snoop":
        nb.cells.insert(2, nbformat.v4.new_code_cell(snoop_code(course, port)))
    return nb


KINDS = ("full", "empty", "partly", "raises", "loops", "deleted", "snoop")
A2, KINDS2 = "t2", ("full", "empty")  # a second assignment, graded in the same command


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _scores(course: Path, students, assignment: str = A) -> dict:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        return {s: {g.name: g.auto_score for g in gb.find_submission_notebook(assignment, assignment, s).grades}
                for s in students}


def _outputs(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))


@pytest.fixture
def course():
    for module in ("dask", "distributed"):
        if importlib.util.find_spec(module) is None:
            if ON_CI:
                pytest.fail(f"CI=true but {module} is not installed (pip install -r deploy/requirements.txt)")
            pytest.skip(f"{module} is not installed (pip install -r deploy/requirements.txt)")
    if shutil.which("bwrap") is None:
        if ON_CI:
            pytest.fail("CI=true but bubblewrap is not installed (apt-get install bubblewrap)")
        pytest.skip("bubblewrap is not installed (apt-get install bubblewrap)")
    base = Path(tempfile.mkdtemp(prefix="emojimation-grade-"))
    base.chmod(0o755)  # the unprivileged grading user passes through to its working copy; root's tmp_path is 0700
    yield base
    shutil.rmtree(base, ignore_errors=True)


@pytest.mark.slow
def test_parallel_grades_equal_serial_and_the_sandbox_refuses_snooping(course):
    grade = _load("grade_demo")
    start = time.perf_counter()
    port = _free_port()
    c = course / "course"
    (c / "source" / A).mkdir(parents=True)
    shutil.copy(REPO / "tools" / "nbgrader" / "nbgrader_config.py", c)
    nbformat.write(instructor_notebook(), c / "source" / A / f"{A}.ipynb")
    grade.nbgrader(c, "generate_assignment", A, "--force")
    released = nbformat.read(c / "release" / A / f"{A}.ipynb", as_version=4)
    for kind in KINDS:
        (c / "submitted" / kind / A).mkdir(parents=True)
        nbformat.write(answer(released, kind, c, port), c / "submitted" / kind / A / f"{A}.ipynb")
    # a second assignment in the same command: two of the students submitted it too
    (c / "source" / A2).mkdir(parents=True)
    nbformat.write(instructor_notebook(), c / "source" / A2 / f"{A2}.ipynb")
    grade.nbgrader(c, "generate_assignment", A2, "--force")
    for kind in KINDS2:
        (c / "submitted" / kind / A2).mkdir(parents=True)
        nbformat.write(answer(nbformat.read(c / "release" / A2 / f"{A2}.ipynb", as_version=4), kind, c, port),
                       c / "submitted" / kind / A2 / f"{A2}.ipynb")
    serial = course / "serial"
    shutil.copytree(c, serial)
    (serial / "nbgrader_config.py").write_text((serial / "nbgrader_config.py").read_text()
                                               + f"\nc.Execute.timeout = {TIME_LIMIT}\n")
    # malformed submissions, in the parallel run only
    bad = {"missing": "t1.ipynb: missing", "renamed": "found my_t1.ipynb: renamed?",
           "notjson": "t1.ipynb: not a notebook", "toolarge": "t1.ipynb: too large",
           "crashes": "Kernel died"}  # its Python exits: nbgrader gives up on it, the others go on
    for kind in bad:
        (c / "submitted" / kind / A).mkdir(parents=True)
    shutil.copy(c / "submitted" / "full" / A / f"{A}.ipynb", c / "submitted" / "renamed" / A / f"my_{A}.ipynb")
    (c / "submitted" / "notjson" / A / f"{A}.ipynb").write_text("print('I saved a .py file as .ipynb')\n")
    huge = nbformat.read(c / "submitted" / "full" / A / f"{A}.ipynb", as_version=4)
    huge.cells.append(nbformat.v4.new_markdown_cell("x" * 2 * 2**20))  # 2 MB, over --max-file-mb 1
    nbformat.write(huge, c / "submitted" / "toolarge" / A / f"{A}.ipynb")
    (c / "submitted" / "missing" / A / "notes.txt").write_text("I forgot the notebook")
    crash = answer(released, "full", c, port)
    next(x for x in crash.cells if x.metadata.get("nbgrader", {}).get("grade_id") == "t1-ex1").source = \
        "import os\nos._exit(1)  # the kernel dies"
    nbformat.write(crash, c / "submitted" / "crashes" / A / f"{A}.ipynb")

    # parallel: a scheduler on loopback, two workers, tools/grade.py --scheduler
    dask = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    procs = [subprocess.Popen([*dask, "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        for _ in range(2):
            procs.append(subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", f"tcp://127.0.0.1:{port}",
                                           "--nthreads", "1", "--nworkers", "1", "--no-dashboard"],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, str(REPO / "tools" / "grade.py"), str(c), A, A2, "--scheduler",
                              f"tcp://127.0.0.1:{port}", "--time-limit", str(TIME_LIMIT), "--max-file-mb", "1"],
                             capture_output=True, text=True, timeout=600)
        parallel_s = time.perf_counter() - t0
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
    print(out.stdout, out.stderr[-3000:])
    assert out.returncode == 0, out.stderr[-3000:]
    report = out.stdout

    # serial: nbgrader's own autograde, unsandboxed, one submission after the other
    t0 = time.perf_counter()
    grade.nbgrader(serial, "autograde", A, "--force")
    grade.nbgrader(serial, "autograde", A2, "--force")
    serial_s = time.perf_counter() - t0
    (c / "snooped.txt").unlink(missing_ok=True)  # written by the unsandboxed snoop

    parallel, expected = _scores(c, KINDS), _scores(serial, KINDS)
    print("serial:", json.dumps(expected), f"\n{serial_s:.0f} s serial, {parallel_s:.0f} s on 2 workers")
    assert parallel == expected
    assert _scores(c, KINDS2, A2) == _scores(serial, KINDS2, A2) == {"full": {"t1-ex1-check": 1, "t1-ex1-check2": 2,
                                                                             "t1-ex2-check": 2},
                                                                    "empty": {"t1-ex1-check": 0, "t1-ex1-check2": 0,
                                                                              "t1-ex2-check": 0}}
    assert (c / "grade_report_t2.txt").read_text().splitlines()[0] == f"{A2}: {len(KINDS2)} submissions"
    totals = {k: sum(v or 0 for v in s.values()) for k, s in parallel.items()}
    assert totals["full"] == totals["snoop"] == 5 and totals["empty"] == 0 and totals["partly"] == 3, totals
    assert totals["raises"] == totals["loops"] == 2, totals  # the other exercise still counts

    # the snooping attempts: refused in the sandbox, done without it (the control)
    sandboxed = _outputs(c / "autograded" / "snoop" / A / f"{A}.ipynb")
    unsandboxed = _outputs(serial / "autograded" / "snoop" / A / f"{A}.ipynb")
    print(sandboxed)
    attempts = re.findall(r"^(REFUSED|DONE) (.+?)(?: \w+)?$", sandboxed, re.M)
    assert len(attempts) == 9 and all(verdict == "REFUSED" for verdict, _ in attempts), sandboxed
    assert unsandboxed.count("DONE") >= 6, f"the control: without the sandbox the reads and writes succeed\n{unsandboxed}"

    # malformed submissions: a line each, 0 points, nobody else's grade lost
    lines = report.splitlines()
    for student, line in bad.items():
        i = next(i for i, l in enumerate(lines) if l.split()[:1] == [student])
        assert lines[i].split()[1:4] == ["0", "of", "5"], (student, lines[i])
        assert any(line in l for l in lines[i + 1:i + 4]), (student, line, report)
    assert not (c / "snooped.txt").exists()
    print(f"the whole test: {time.perf_counter() - start:.0f} s")


# --------------------------------------------------------------------------- fast: bad input, the documented speed
def test_bad_input_gets_a_clear_line(tmp_path):
    check = _load("grade").check_submission
    folder = tmp_path / "s" / A
    folder.mkdir(parents=True)
    assert check(folder, [A], 2**20)[0] == [f"{A}.ipynb: missing; scored 0"]
    (folder / f"my_{A}.ipynb").write_text("{}")
    assert "renamed?" in check(folder, [A], 2**20)[0][0]
    (folder / f"{A}.ipynb").write_text("not json")
    problems, keep = check(folder, [A], 2**20)
    assert problems[0].startswith(f"{A}.ipynb: not a notebook") and folder / f"{A}.ipynb" not in keep
    nbformat.write(instructor_notebook(), folder / f"{A}.ipynb")
    (folder / "big.bin").write_bytes(b"0" * (2**20 + 1))
    problems, keep = check(folder, [A], 2**20)
    assert problems == ["big.bin: too large (1.0 MB, the limit is 1 MB); not graded"] and folder / f"{A}.ipynb" in keep


def test_a_sandboxed_kernel_gets_the_thread_limit(tmp_path, monkeypatch):
    """The sandbox clears the environment; the kernel still gets its share of the cores, over any inherited value."""
    from tests.conftest import require

    require(shutil.which("bwrap"), "bubblewrap (bwrap) is not installed: apt-get install bubblewrap")
    monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", "8")
    folders = [tmp_path / name for name in ("nb", "run", "home")]
    for folder in folders:
        folder.mkdir()
    argv = _load("grade").bwrap_argv(*folders, threads=1)
    assert argv[-4:-2] == ["-m", "ipykernel_launcher"]
    out = subprocess.run(argv[:-4] + ["-c", "import json, os; print(json.dumps(dict(os.environ)))"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    env = json.loads(out.stdout)
    assert {k: env.get(k) for k in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS")} == {
        "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1", "OMP_NUM_THREADS": "1"}
    assert "CI" not in env and env["HOME"] == str(tmp_path / "home")


def test_teaching_states_the_measured_grading_speed():
    results = json.loads((REPO / "benchmarks" / "results" / "grading_speed.json").read_text())
    text = " ".join((REPO / "docs" / "TEACHING.md").read_text().split())
    for entry in results.values():
        one, two = entry["runs"]
        assert f"{one['submissions_per_hour']:.0f} submissions/hour" in text, entry["label"]
        assert f"{two['submissions_per_hour']:.0f} submissions/hour" in text, entry["label"]
        hours = " / ".join(f"{entry['projection_300_students_hours'][c]:.2f}" for c in ("8", "32", "128"))
        assert hours in text, (entry["label"], hours)


def test_a_submission_over_its_time_limit_is_killed_with_its_process_group(tmp_path):
    """The hard limit: nbgrader (and every kernel it started) is killed, and the report says so."""
    from emolib.grading import grade_one

    (tmp_path / "home").mkdir()
    (tmp_path / "run").mkdir()
    result = grade_one(str(tmp_path), A, "slowpoke", limit_s=0.5)  # nbgrader cannot even start in 0.5 s
    assert result["status"].startswith("killed after") and result["status"].endswith("(time limit)"), result
    assert result["seconds"] < 30


# --------------------------------------------------------------------------- slow: the warm cache
WARM_SETUP = """import keras
import numpy as np
from emolib.evaluate import evaluate
keras.utils.set_random_seed(0)
net = keras.Sequential([keras.Input((48, 48, 1)), keras.layers.Flatten(name="flat"),
                        keras.layers.Dense(7, activation="softmax", name="dense")], name="shared")
faces = np.random.default_rng(0).integers(0, 256, (64, 48, 48), dtype=np.uint8)
labels = np.arange(64) % 7
shared = evaluate(net, (faces, labels), cache=True)  # the same network and faces for every student"""
WARM_CHECK = """import emolib.evaluate

def _computed(*args, **kwargs):
    raise RuntimeError("predicted again: these predictions were not in the cache")

emolib.evaluate.predict_proba = _computed
assert evaluate(net, (faces, labels), cache=True).accuracy == shared.accuracy"""


@pytest.mark.slow
def test_the_warm_cache_spares_each_submission_the_shared_evaluations(course, monkeypatch):
    """The source notebook, run once before grading, leaves its cache=True predictions for the sandboxed
    submissions to read (the check passes only if the second evaluation is read back, not predicted); with
    --no-warm the sandbox cannot write them and the check fails."""
    grade = _load("grade_demo")
    cache = course / "cache"  # readable by the unprivileged grading user, like a course's shared cache folder
    cache.mkdir(mode=0o755)
    monkeypatch.setenv("EMOLIB_CACHE", str(cache))
    c = course / "course"
    (c / "source" / A).mkdir(parents=True)
    shutil.copy(REPO / "tools" / "nbgrader" / "nbgrader_config.py", c)
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(WARM_SETUP, metadata=_meta("t1-setup", locked=True)),
        nbformat.v4.new_code_cell(WARM_CHECK, metadata=_meta("t1-cached", grade=True, locked=True, points=1))])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, c / "source" / A / f"{A}.ipynb")
    grade.nbgrader(c, "generate_assignment", A, "--force")
    (c / "submitted" / "alice" / A).mkdir(parents=True)
    shutil.copy(c / "release" / A / f"{A}.ipynb", c / "submitted" / "alice" / A)
    scores = {}
    for warm in ([], ["--no-warm"]):
        shutil.rmtree(cache)
        cache.mkdir(mode=0o755)
        out = subprocess.run([sys.executable, str(REPO / "tools" / "grade.py"), str(c), A, "--workers", "1",
                              "--time-limit", "60", *warm], capture_output=True, text=True, timeout=600)
        print(out.stdout, out.stderr[-2000:])
        assert out.returncode == 0, out.stderr[-3000:]
        scores[bool(not warm)] = _scores(c, ["alice"])["alice"]["t1-cached"]
        assert ("warmed the cache" in out.stdout) == (not warm), out.stdout
    assert scores == {True: 1, False: 0}, scores
