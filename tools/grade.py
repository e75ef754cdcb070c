"""Autograde every collected submission of one or more nbgrader assignments in parallel on Dask (``make grade``).

nbgrader grades one submission at a time. This runs ``nbgrader autograde`` once per submission (one student's
copy of one assignment), each on a Dask worker, in its own process and its own working copy of the course (a
copy of the gradebook holding the assignment but no other student, the submission, the source's non-notebook
files), then merges each copy's grades into the course's gradebook with nbgrader's API and copies the autograded
notebooks back, so that the formgrader, ``nbgrader generate_feedback`` and ``nbgrader export`` work as after
nbgrader's own autograde.

* **A cluster**: a ``LocalCluster`` of ``--workers`` processes by default; ``--scheduler tcp://HOST:8786`` uses a
  running one (``dask scheduler`` and ``dask worker``, dask-jobqueue on SLURM, dask-kubernetes: docs/TEACHING.md).
  Workers must see the course folder at the same path (one machine, or a shared file system).
* **Threads**: on a LocalCluster each submission's TensorFlow gets this machine's cores divided by ``--workers``
  (``--threads`` sets it), so that kernels graded side by side do not fight over the cores.
* **Isolation**: a time limit per notebook (each cell is interrupted after ``--time-limit`` seconds, as nbgrader
  does, and the whole submission is killed after ``--time-limit`` times its notebooks plus 60 s); a crash or an
  endless loop costs that submission its points, not the others theirs.
* **A sandbox** (``--sandbox bwrap``, the default): the kernel that runs a student's code is started under
  bubblewrap, with no network (its own network namespace), a read-only view of the system, Python and emolib,
  FER2013 (``EMOLIB_DATA``) read-only, and only its own notebook folder writable; other submissions, the
  gradebook and the instructor's source are not in its view. Run as root, each submission is graded as the
  unprivileged user ``--user`` (default ``nobody``) as well. ``--sandbox none`` grades without (trusted code only).
* **A warm cache** (``--no-warm`` skips it): before the first submission, the instructor's source notebooks run
  once, unsandboxed (the instructor's own code), so that every evaluation they make with ``cache=True`` (the
  shipped networks' predictions, which are the same for every student) is in the cache folder; the submissions
  read it, read-only, instead of computing it again. A source notebook that fails there is reported and skipped.
* **Bad input**: a missing or renamed notebook, a notebook that is not JSON, a file over ``--max-file-mb`` each
  get a line in the report; the notebook scores 0, the submission's other notebooks and other students are graded.

    python tools/grade.py COURSE ASSIGNMENT                      # every submitted/<student>/ASSIGNMENT
    python tools/grade.py COURSE 01_exploring_fer2013 03_training   # both, side by side, the longer one first
    python tools/grade.py COURSE ASSIGNMENT --workers 8 --time-limit 300
    python tools/grade.py COURSE ASSIGNMENT --scheduler tcp://10.0.0.5:8786

It needs dask[distributed] (deploy/requirements.txt) and bubblewrap (Debian: ``apt-get install bubblewrap``).
The report goes to stdout and ``COURSE/grade_report_ASSIGNMENT.txt`` (one per assignment).
"""
from __future__ import annotations

import argparse
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


# --------------------------------------------------------------------------- checking a submission's files
def check_submission(folder: Path, notebooks: list[str], max_bytes: int) -> tuple[list[str], list[Path]]:
    """(problems, files to grade) for one submitted folder: each problem a line for the report.

    A notebook that is missing, not JSON or too large is left out (nbgrader then scores it 0); so is any other
    file over ``max_bytes``.
    """
    problems, keep = [], []
    found = {p.name for p in folder.glob("*.ipynb")}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        size = path.stat().st_size
        rel = path.relative_to(folder)
        if size > max_bytes:
            problems.append(f"{rel}: too large ({size / 2**20:.1f} MB, the limit is {max_bytes / 2**20:.0f} MB); not graded")
            continue
        if path.suffix == ".ipynb" and path.parent == folder and path.stem in notebooks:
            try:
                nb = json.loads(path.read_text(encoding="utf-8"))
                if not isinstance(nb, dict) or "cells" not in nb:
                    raise ValueError("no cells")
            except (ValueError, UnicodeDecodeError) as err:
                problems.append(f"{rel}: not a notebook (not valid notebook JSON: {str(err)[:80]}); scored 0")
                continue
        keep.append(path)
    for name in notebooks:
        if f"{name}.ipynb" not in found:
            others = sorted(found - {f"{n}.ipynb" for n in notebooks})
            hint = f" (found {', '.join(others)}: renamed? nbgrader grades notebooks by name)" if others else ""
            problems.append(f"{name}.ipynb: missing{hint}; scored 0")
    return problems, keep


# --------------------------------------------------------------------------- the sandbox
def bwrap_argv(notebook_dir: Path, runtime: Path, home: Path, cache: Path | None = None,
               threads: int | None = None) -> list[str]:
    """bubblewrap's command line for a kernel: what it sees and may write (see the module's docstring); ``cache``
    (FER2013's decoded arrays and the warm predictions) is seen read-only."""
    python = Path(sys.executable)
    ro = {"/usr", "/etc", os.path.realpath(sys.base_prefix), sys.prefix}
    import emolib
    ro.add(str(Path(emolib.__file__).resolve().parent))  # emolib only, not the repository's notebooks/
    for path in sys.path:  # installed packages (site-packages, .pth folders), never a repository checkout
        if path and ("site-packages" in path or "dist-packages" in path) and Path(path).is_dir():
            ro.add(path)
    data = os.environ.get("EMOLIB_DATA")
    if data and Path(data).is_dir():
        ro.add(os.path.realpath(data))
    argv = ["bwrap", "--die-with-parent", "--new-session", "--unshare-all", "--cap-drop", "ALL",
            "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    for name in ("bin", "lib", "lib64", "sbin"):  # usr-merged systems: symbolic links into /usr
        p = Path("/") / name
        if p.is_symlink():
            argv += ["--symlink", os.readlink(p), str(p)]
        elif p.is_dir():
            argv += ["--ro-bind", str(p), str(p)]
    for path in sorted(ro):
        argv += ["--ro-bind", path, path]
    for path in (notebook_dir, runtime):
        argv += ["--bind", str(path), str(path)]
    if cache is not None:  # read, never written: a submission cannot poison the next one's arrays or predictions
        argv += ["--ro-bind", str(cache), str(cache)]
    if os.environ.get("PYTHONPATH"):
        for path in os.environ["PYTHONPATH"].split(os.pathsep):  # a checkout on the path: its emolib only
            if (Path(path) / "emolib").is_dir():
                argv += ["--ro-bind", str(Path(path) / "emolib"), str(Path(path) / "emolib")]
    # a scratch home (memory, gone afterwards); everything else read-only, /tmp too (the working copies may lie
    # under it)
    argv += ["--tmpfs", str(home), "--remount-ro", "/tmp", "--remount-ro", "/", "--chdir", str(notebook_dir),
             "--clearenv", "--setenv", "HOME", str(home), "--setenv", "TMPDIR", str(home),
             "--setenv", "PATH", f"{python.parent}:/usr/bin:/bin",
             "--setenv", "MPLCONFIGDIR", str(home), "--setenv", "LANG", "C.UTF-8"]
    if cache is not None:
        argv += ["--setenv", "EMOLIB_CACHE", str(cache)]
    from emolib.grading import THREAD_VARS, thread_env

    env = {key: os.environ[key] for key in ("EMOLIB_DATA", "PYTHONPATH", "EMOLIB_VIEWS", "ONEDNN_MAX_CPU_ISA", *THREAD_VARS)
           if os.environ.get(key)}
    for key, value in (env | thread_env(threads)).items():
        argv += ["--setenv", key, value]
    return argv + [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"]


# --------------------------------------------------------------------------- the warm cache
def warm_cache(course: Path, assignment: str, notebooks: list[str], time_limit: int = 600) -> dict:
    """Run the assignment's source notebooks once in this process's environment, so that their ``cache=True``
    evaluations are in :func:`emolib.data.default_cache_dir` before any submission; ``{"seconds", "failed"}``.

    Each runs in a temporary copy of ``source/ASSIGNMENT`` (the course folder is not changed), as the instructor,
    never sandboxed: only the instructor's own code runs here.
    """
    import nbformat
    from nbclient import NotebookClient

    start, failed = time.perf_counter(), []
    src = course / "source" / assignment
    with tempfile.TemporaryDirectory(prefix="emojimation-warm-") as tmp:
        work = Path(tmp) / assignment
        shutil.copytree(src, work, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        env = {k: v for k, v in os.environ.items() if k != "EMOLIB_TRAIN"}  # grading never trains
        for name in notebooks:
            path = work / f"{name}.ipynb"
            try:
                nb = nbformat.read(path, as_version=4)
                NotebookClient(nb, timeout=time_limit, kernel_name="python3",
                               resources={"metadata": {"path": str(work)}}).execute(env=env)
            except Exception as err:  # the submissions are graded all the same, only without a warm cache
                last = (str(err).strip().splitlines() or [""])[-1]
                failed.append(f"{name}.ipynb: {type(err).__name__}: {last[:200]}")
    return {"seconds": round(time.perf_counter() - start, 1), "failed": failed}


# --------------------------------------------------------------------------- one submission, on a worker
def make_copy(course: Path, work: Path, template_db: Path, assignment: str, student: str,
              files: list[Path], time_limit: int, sandbox: str, uid: int | None, gid: int | None,
              cache: Path | None = None, threads: int | None = None) -> None:
    """The working copy ``work`` of the course for one submission (made by the client, graded on a worker)."""
    if work.exists():
        shutil.rmtree(work)
    (work / "run").mkdir(parents=True)
    (work / "home").mkdir()
    shutil.copy(course / "nbgrader_config.py", work / "nbgrader_config.py")
    shutil.copy(template_db, work / "gradebook.db")
    src = course / "source" / assignment
    for path in (p for p in src.rglob("*") if p.is_file() and p.suffix != ".ipynb"):  # data files, no solutions
        (work / "source" / assignment / path.relative_to(src).parent).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, work / "source" / assignment / path.relative_to(src))
    (work / "source" / assignment).mkdir(parents=True, exist_ok=True)
    submitted = course / "submitted" / student / assignment
    for path in files:
        target = work / "submitted" / student / assignment / path.relative_to(submitted)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    (work / "submitted" / student / assignment).mkdir(parents=True, exist_ok=True)
    notebook_dir = work / "autograded" / student / assignment
    notebook_dir.mkdir(parents=True)
    overrides = [f"\n# tools/grade.py: this working copy's settings",
                 f"c.CourseDirectory.root = {str(work)!r}",
                 f"c.CourseDirectory.db_url = {'sqlite:///' + str(work / 'gradebook.db')!r}",
                 f"c.Execute.timeout = {time_limit}", "c.Execute.interrupt_on_timeout = True",
                 'c.Execute.kernel_name = "python3"',  # a notebook cannot pick another kernel by its metadata
                 "c.KernelSpecManager.ensure_native_kernel = False"]
    if sandbox == "bwrap":
        overrides += ['c.KernelManager.transport = "ipc"',  # no network in the sandbox: sockets are files
                      f"c.KernelManager.ip = {str(work / 'run' / 'kernel')!r}"]
        spec = work / "jupyter" / "kernels" / "python3"
        spec.mkdir(parents=True)
        (spec / "kernel.json").write_text(json.dumps({
            "argv": bwrap_argv(notebook_dir, work / "run", work / "home", cache, threads),
            "display_name": "Python 3 (sandboxed)",
            "language": "python", "interrupt_mode": "message"}, indent=1))
    with open(work / "nbgrader_config.py", "a") as f:
        f.write("\n".join(overrides) + "\n")
    if uid is not None:
        for dirpath, dirnames, filenames in os.walk(work):
            for name in [dirpath, *(os.path.join(dirpath, n) for n in dirnames + filenames)]:
                os.chown(name, uid, gid)


# --------------------------------------------------------------------------- the gradebooks
def template_gradebook(course: Path, target: Path) -> None:
    """A copy of the course's gradebook with its assignments and notebooks but no student."""
    from nbgrader.api import Gradebook

    shutil.copy(course / "gradebook.db", target)
    with Gradebook(f"sqlite:///{target}") as gb:
        for student in list(gb.students):
            gb.remove_student(student.id)


def merge(course: Path, work: Path, assignment: str, student: str) -> dict[str, float | None]:
    """Copy one working copy's grades for ``student`` into the course's gradebook; {grade cell: auto score}."""
    import warnings

    from nbgrader.api import Gradebook, MissingEntry

    warnings.filterwarnings("ignore", message="Object of type <Submitted")  # SQLAlchemy on nbgrader's add_submission
    scores: dict[str, float | None] = {}
    with Gradebook(f"sqlite:///{work / 'gradebook.db'}") as src, Gradebook(f"sqlite:///{course / 'gradebook.db'}") as dst:
        try:
            theirs = src.find_submission(assignment, student)
        except MissingEntry:
            theirs = None
        dst.update_or_create_student(student)
        try:
            dst.remove_submission(assignment, student)
        except MissingEntry:
            pass
        ours = dst.add_submission(assignment, student, timestamp=theirs.timestamp if theirs else None)
        for nb in ours.notebooks:
            for grade in nb.grades:
                their = None
                if theirs is not None:
                    try:
                        their = src.find_grade(grade.name, nb.name, assignment, student)
                    except MissingEntry:
                        their = None
                grade.auto_score = their.auto_score if their else 0.0
                grade.manual_score = their.manual_score if their else None
                grade.needs_manual_grade = their.needs_manual_grade if their else False
                scores[f"{nb.name}/{grade.name}"] = grade.auto_score
            for comment in nb.comments:
                if theirs is not None:
                    try:
                        comment.auto_comment = src.find_comment(comment.name, nb.name, assignment, student).auto_comment
                    except MissingEntry:
                        pass
        dst.db.commit()
    done = work / "autograded" / student / assignment
    target = course / "autograded" / student / assignment
    if done.is_dir():
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(done, target)
    return scores


# --------------------------------------------------------------------------- the command
def run(course: Path, assignments: str | list[str], *, workers: int = 2, scheduler: str | None = None,
        time_limit: int = 600, max_file_mb: float = 20, sandbox: str = "bwrap", user: str = "nobody",
        students: list[str] | None = None, work_root: Path | None = None, warm: bool = True,
        threads: int | None = None) -> dict:
    """Grade every submission of each assignment; {"results": {(assignment, student): {...}}, "report": str,
    "warm": {assignment: :func:`warm_cache`'s} or None, "threads"}. See the module's docstring.

    Each (assignment, student) pair is one task, so a student's assignments are graded side by side on as many
    workers; the assignment whose source notebooks took longest in the warm step goes first.

    ``threads``: TensorFlow threads per submission; by default, on a LocalCluster, this machine's cores divided by
    ``workers`` (so that the kernels do not fight over the cores), and with ``scheduler`` TensorFlow's own choice.

    ``work_root``: where the working copies go (kept afterwards); by default a temporary folder, removed.
    On a cluster of several machines give a folder every worker sees at the same path (``--work``).
    """
    from nbgrader.api import Gradebook, MissingEntry
    from dask.distributed import Client, LocalCluster, as_completed

    from emolib.grading import grade_one  # workers import it by name

    assignments = [assignments] if isinstance(assignments, str) else list(dict.fromkeys(assignments))
    course = course.resolve()
    for needed in ("nbgrader_config.py", "gradebook.db"):
        if not (course / needed).is_file():
            raise SystemExit(f"error: {course} has no {needed}: is it an nbgrader course folder where "
                             f"'nbgrader generate_assignment {assignments[0]}' has run?")
    notebooks: dict[str, list[str]] = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for assignment in assignments:
            try:
                notebooks[assignment] = [nb.name for nb in gb.find_assignment(assignment).notebooks]
            except MissingEntry:
                raise SystemExit(f"error: no assignment {assignment!r} in {course / 'gradebook.db'} "
                                 f"(run nbgrader generate_assignment {assignment} first)")
    if sandbox == "bwrap" and shutil.which("bwrap") is None:
        raise SystemExit("error: bubblewrap (bwrap) is not installed: apt-get install bubblewrap, "
                         "or --sandbox none to run students' code unsandboxed")
    uid = gid = None
    if os.geteuid() == 0:
        try:
            uid, gid = pwd.getpwnam(user).pw_uid, pwd.getpwnam(user).pw_gid
        except KeyError:
            raise SystemExit(f"error: no such user {user!r} (--user): the unprivileged account that grades")
        python = Path(os.path.realpath(sys.executable))
        closed = [str(p) for p in python.parents if not p.stat().st_mode & 0o001]
        if closed:
            raise SystemExit(f"error: the grading user {user!r} cannot reach this Python ({python}): "
                             f"{', '.join(closed)} not searchable by others; chmod o+x them, or use a system Python")
    from emolib.data import default_cache_dir

    cache: Path | None = default_cache_dir().resolve()
    if warm:
        cache.mkdir(parents=True, exist_ok=True)  # the warm step fills it; the sandboxes must see it from the start
    if not cache.is_dir():
        cache = None
    elif uid is not None and (closed := [str(p) for p in (cache, *cache.parents) if not p.stat().st_mode & 0o001]):
        print(f"warning: the grading user {user!r} cannot reach the cache folder {cache} ({', '.join(closed)} not "
              "searchable by others): each submission decodes FER2013 and computes the shared predictions itself. "
              "Point EMOLIB_CACHE at a folder others can read to share them", file=sys.stderr)
        cache = None
    folders = {a: sorted(p for p in (course / "submitted").glob(f"*/{a}") if p.is_dir()) for a in assignments}
    if students:
        folders = {a: [p for p in found if p.parent.name in students] for a, found in folders.items()}
    if not any(folders.values()):
        raise SystemExit(f"error: no submissions in {course / 'submitted'}/*/"
                         + (assignments[0] if len(assignments) == 1 else "{" + ",".join(assignments) + "}"))
    if threads is None and not scheduler:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        threads = max(1, cores // workers)
    keep = work_root is not None
    if work_root is None:  # a course folder in a private home is out of the unprivileged grader's reach
        work_root = Path(tempfile.mkdtemp(prefix="emojimation-grading-"))
    work_root = work_root.resolve()
    if work_root.exists():
        shutil.rmtree(work_root)
    work_root.mkdir(parents=True)
    work_root.chmod(0o711)  # the grading user passes through, lists nothing
    template = work_root / "template.db"
    template_gradebook(course, template)
    problems, jobs, results = {}, [], {}
    for assignment in assignments:
        (work_root / assignment).mkdir()
        (work_root / assignment).chmod(0o711)  # as work_root
        for folder in folders[assignment]:
            student = folder.parent.name
            key = (assignment, student)
            problems[key], files = check_submission(folder, notebooks[assignment], int(max_file_mb * 2**20))
            work = work_root / assignment / student
            make_copy(course, work, template, assignment, student, files, time_limit, sandbox, uid, gid, cache, threads)
            if not any(p.parent == folder and p.stem in notebooks[assignment] for p in files):  # nothing to grade
                results[key] = {"student": student, "assignment": assignment, "seconds": None, "log": "",
                                "status": "not graded: no notebook to grade", "work": str(work)}
            else:
                jobs.append((str(work), assignment, student))

    warmed = None
    if warm and jobs:
        warmed = {a: warm_cache(course, a, notebooks[a], time_limit) for a in assignments
                  if any(job[1] == a for job in jobs)}
        failed = [f"{a}/{f}" for a, w in warmed.items() for f in w["failed"]]
        if failed:
            print("warning: the warm cache is incomplete (" + "; ".join(failed) + ")", file=sys.stderr)
    cluster = None
    if scheduler:
        client = Client(scheduler, timeout="30s")
    else:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    try:
        futures = {}
        for work, assignment, student in jobs:
            limit_s = time_limit * len(notebooks[assignment]) + 60
            priority = round(warmed[assignment]["seconds"]) if warmed else 0  # the longest first: the last ends sooner
            future = client.submit(grade_one, work, assignment, student, limit_s, uid, gid, threads, priority=priority,
                                   key=f"grade-{assignment}-{student}", pure=False, retries=0)
            futures[future] = (work, assignment, student)
        for future in as_completed(list(futures)):
            work, assignment, student = futures[future]
            try:
                r = future.result()
            except Exception as err:  # the worker itself died: the others go on
                r = {"student": student, "status": f"worker failed: {type(err).__name__}: {err}", "seconds": None,
                     "log": "", "work": work}
            results[(assignment, student)] = dict(r, assignment=assignment)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    reports = []
    for assignment in assignments:
        mine = {s: r for (a, s), r in sorted(results.items()) if a == assignment}
        for student, r in mine.items():
            r["scores"] = merge(course, Path(r["work"]), assignment, student)
            r["problems"] = problems[(assignment, student)]
        report = format_report(course, assignment, mine)
        if warmed and assignment in warmed:
            report += (f"\nthe source notebooks warmed the cache in {warmed[assignment]['seconds']:.0f} s"
                       + "".join(f"\n{'':<20} ! not warmed: {f}" for f in warmed[assignment]["failed"]))
        (course / f"grade_report_{assignment}.txt").write_text(report + "\n")
        reports.append(report)
    if not keep:
        shutil.rmtree(work_root, ignore_errors=True)
    return {"results": results, "report": "\n\n".join(reports), "warm": warmed, "threads": threads}


def format_report(course: Path, assignment: str, results: dict) -> str:
    from nbgrader.api import Gradebook

    lines = [f"{assignment}: {len(results)} submissions"]
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for student, r in sorted(results.items()):
            sub = gb.find_submission(assignment, student)
            lines.append(f"{student:<20} {sub.score:g} of {sub.max_score:g}  {r['status']}"
                         + (f", {r['seconds']:.0f} s" if r["seconds"] is not None else ""))
            lines += [f"{'':<20} ! {p}" for p in r["problems"]]
            if r["status"] != "ok":
                errors = [l.strip() for l in r["log"].splitlines() if "ERROR" in l or "Error:" in l]
                known = [l for l in errors if "Kernel died" in l or "Timeout" in l or "Error:" in l]
                lines += [f"{'':<20} ! {l[:200]}" for l in (known[:2] or errors[-3:])]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("course", type=Path, help="the nbgrader course folder (gradebook.db, source/, submitted/)")
    parser.add_argument("assignments", nargs="+", metavar="ASSIGNMENT",
                        help="the assignment(s) to grade; several are graded side by side (one task per student each)")
    parser.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes (default 2)")
    parser.add_argument("--scheduler", help="address of a running Dask scheduler (e.g. tcp://127.0.0.1:8786)")
    parser.add_argument("--time-limit", type=int, default=600,
                        help="seconds per cell, and per notebook for the whole submission (default 600)")
    parser.add_argument("--max-file-mb", type=float, default=20, help="larger submitted files are not graded (default 20)")
    parser.add_argument("--sandbox", choices=("bwrap", "none"), default="bwrap", help="run students' code in bubblewrap (default)")
    parser.add_argument("--user", default="nobody", help="when run as root: the unprivileged user that grades (default nobody)")
    parser.add_argument("--student", action="append", help="grade only this student (repeatable)")
    parser.add_argument("--no-warm", dest="warm", action="store_false",
                        help="skip running the source notebooks once first (see 'A warm cache' above)")
    parser.add_argument("--threads", type=int, help="TensorFlow threads per submission (default: this machine's "
                        "cores divided by --workers; with --scheduler, TensorFlow's own choice)")
    parser.add_argument("--work", type=Path, help="folder for the working copies, kept (default: a temporary one, "
                                                 "removed); on several machines, one every worker sees")
    args = parser.parse_args(argv)
    if args.workers < 1 or args.time_limit < 1 or args.max_file_mb <= 0 or (args.threads or 1) < 1:
        parser.error("--workers, --threads, --time-limit and --max-file-mb must be positive")
    out = run(args.course, args.assignments, workers=args.workers, scheduler=args.scheduler, time_limit=args.time_limit,
              max_file_mb=args.max_file_mb, sandbox=args.sandbox, user=args.user, students=args.student, work_root=args.work,
              warm=args.warm, threads=args.threads)
    print(out["report"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
