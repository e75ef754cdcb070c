"""The course's hub (deploy/jupyterhub_config.py) on loopback, and nbgrader's exchange round trip through it.

A real JupyterHub with configurable-http-proxy (npm) starts with the course's configuration, under a small
overlay that only makes it local (ports, a dummy login, JupyterHub's LocalProcessSpawner, a service token to
drive it). An instructor and three students are real Unix users; the hub spawns each one's server, and every
action below is code run in a kernel of that user's own server, as that user:

1. the instructor writes ``~/course`` (a tiny assignment with two checks, 1 and 2 points), generates and
   releases it;
2. each student fetches it and works: ``full`` answers right, ``none`` leaves it untouched, ``wrong`` answers so
   that only the 1-point check passes; each submits;
3. a student tries to read another student's work, list the exchange's submissions, read the instructor's
   source, solutions, release and gradebook, and write to FER2013: each is refused (a submission whose full
   name is known stays readable: nbgrader makes the name unguessable and the folder unlistable);
4. the instructor collects, autogrades, generates and releases feedback, exports the grades: 3, 0 and 1 of 3;
5. each student fetches their own feedback, which states their own score.

What it cannot show: the memory and CPU limits (LocalProcessSpawner states them, does not enforce them; TLJH's
systemd spawner does), HTTPS, TLJH's own installer and authenticator, and logins through the browser (the
students' actions go through the REST API and kernels, not JupyterLab's UI).
"""
from __future__ import annotations

import csv
import importlib.util
import io
import json
import os
import re
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy"
ON_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

_spec = importlib.util.spec_from_file_location("hubtools", Path(__file__).with_name("hubtools.py"))
hubtools = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(hubtools)

pytestmark = pytest.mark.slow

ASSIGNMENT = "a1"
#: what each student writes in place of the stub, and the automatic score it deserves (of 3)
WORK = {"full": ("return 2 * x", 3.0), "none": (None, 0.0), "wrong": ("return x + 2", 1.0)}


def tiny_assignment() -> nbformat.NotebookNode:
    """An instructor notebook in the course's conventions: a solution cell, then a 1-point and a 2-point check."""
    def meta(grade_id, **kw):
        return {"nbgrader": {"grade_id": grade_id, "schema_version": 3, "locked": False, "solution": False,
                             "grade": False, **kw}}
    cells = [
        nbformat.v4.new_markdown_cell("Write `double(x)`, which returns twice `x`."),
        nbformat.v4.new_code_cell("def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
                                  metadata=meta("a1-ex1", solution=True)),
        nbformat.v4.new_code_cell("assert double(2) == 4, 'double(2) should be 4'",
                                  metadata=meta("a1-ex1-check", grade=True, locked=True, points=1)),
        nbformat.v4.new_code_cell("assert double(-3) == -6, 'double(-3) should be -6'",
                                  metadata=meta("a1-ex1-check2", grade=True, locked=True, points=2)),
    ]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def _need(condition: bool, why: str) -> None:
    if not condition:
        if ON_CI:
            pytest.fail(f"CI=true but the hub test cannot run: {why}")
        pytest.skip(why)


@pytest.fixture
def hub():
    """A JupyterHub on loopback with the course's configuration; the instructor and three students as Unix users."""
    _need(hubtools.is_root(), "real Unix users need root (CI runs as root)")
    missing = hubtools.which("configurable-http-proxy", "useradd", "userdel")
    _need(not missing, f"missing commands: {missing} (npm install -g configurable-http-proxy; .ci/run does)")
    _need(importlib.util.find_spec("jupyterhub") is not None, "jupyterhub is not installed (pip install -r deploy/requirements.txt)")
    python = Path(os.path.realpath(sys.executable))
    closed = [str(p) for p in python.parents if not p.stat().st_mode & stat.S_IXOTH]
    _need(not closed, f"other users cannot reach this Python ({python}): {closed} not searchable by others "
                      "(e.g. a pyenv Python in a 0700 home folder; chmod o+x the folder or use a system Python)")

    base = Path(tempfile.mkdtemp(prefix="emojimation-hub-"))  # not under pytest's tmp_path: that is root-only
    base.chmod(0o755)
    (base / "home").mkdir(mode=0o755)
    runtime = base / "hub"
    runtime.mkdir(mode=0o700)
    prefix = "emo" + secrets.token_hex(2)
    users = {"instructor": f"{prefix}teach"} | {s: f"{prefix}{s}" for s in WORK}
    roster = runtime / "roster.txt"
    roster.write_text("\n".join(users[s] for s in WORK) + "\n")
    token = secrets.token_hex(32)
    port, hub_port, api_port = (hubtools.free_port() for _ in range(3))
    (runtime / "overlay.py").write_text(f"""
c = get_config()
load_subconfig({str(DEPLOY / 'jupyterhub_config.py')!r})
# only what makes it a local test: ports on loopback, a login without passwords, the local spawner, a driver token
c.JupyterHub.bind_url = "http://127.0.0.1:{port}"
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{api_port}"
c.JupyterHub.db_url = "sqlite:///{runtime}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "{runtime}/cookie_secret"
c.ConfigurableHTTPProxy.pid_file = "{runtime}/proxy.pid"
c.JupyterHub.authenticator_class = "dummy"
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.default_url = "/tree"
c.JupyterHub.services = c.JupyterHub.services + [{{"name": "driver", "api_token": {token!r}}}]
c.JupyterHub.load_roles = c.JupyterHub.load_roles + [{{"name": "admin", "services": ["driver"]}}]
""")
    env = dict(os.environ, EMOJIMATION_EXCHANGE=str(base / "exchange"), EMOJIMATION_INSTRUCTOR=users["instructor"],
               EMOJIMATION_ROSTER=str(roster), EMOJIMATION_DATA=os.environ.get("EMOLIB_DATA", "/srv/fer2013"),
               EMOJIMATION_CULL_TIMEOUT="600",
               PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
    for name in users.values():
        hubtools.add_user(name, str(base / "home"))
    proc = None
    try:
        log = open(runtime / "hub.log", "w")
        proc = subprocess.Popen([str(Path(sys.executable).parent / "jupyterhub"), "-f", str(runtime / "overlay.py")],
                                cwd=runtime, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        h = hubtools.Hub(f"http://127.0.0.1:{port}", token)
        h.wait_up(proc)
        h.base, h.users, h.proc, h.log = base, users, proc, runtime / "hub.log"
        yield h
    finally:
        if proc is not None:
            for name in users.values():
                try:
                    hubtools.Hub(f"http://127.0.0.1:{port}", token).api("DELETE", f"/users/{name}/server")
                except Exception:
                    pass
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
            if ON_CI or os.environ.get("EMOJIMATION_HUB_LOG"):
                print((runtime / "hub.log").read_text()[-5000:])
        for name in users.values():
            hubtools.remove_user(name)
        shutil.rmtree(base, ignore_errors=True)


def _ok(hub, user: str, command: str) -> str:
    rc, out = hub.sh(user, command)
    assert rc == 0, f"{user}: {command} -> {rc}\n{out}"
    return out


def test_exchange_round_trip_on_a_real_hub(hub):
    start = time.perf_counter()
    users = hub.users
    teacher = users["instructor"]
    for name in users.values():  # the hub starts them side by side
        hub.spawn(name, wait=False)
    for name in users.values():
        hub.wait_ready(name)
        print(f"{name}'s server ready after {time.perf_counter() - start:.0f} s")
    spawned = time.perf_counter() - start

    # every server runs as its own Unix user, sees the course installed and FER2013's path
    for role, name in users.items():
        out = hub.run(name, "import os, pwd, emolib\nprint(pwd.getpwuid(os.getuid()).pw_name, os.environ['EMOLIB_DATA'], emolib.__version__)")
        assert out.split()[0] == name, out
    homes = {role: Path(hub.base) / "home" / name for role, name in users.items()}
    assert all(stat.S_IMODE(h.stat().st_mode) == 0o700 for h in homes.values()), "pre_spawn_hook: private homes"

    # 1. the instructor makes the course folder, generates and releases the assignment
    config = (REPO / "tools" / "nbgrader" / "nbgrader_config.py").read_text()
    notebook = nbformat.writes(tiny_assignment())
    hub.run(teacher, "from pathlib import Path\n"
                     f"course = Path.home() / 'course'\n(course / 'source' / {ASSIGNMENT!r}).mkdir(parents=True)\n"
                     f"(course / 'nbgrader_config.py').write_text({config!r})\n"
                     f"(course / 'source' / {ASSIGNMENT!r} / {ASSIGNMENT + '.ipynb'!r}).write_text({notebook!r})")
    _ok(hub, teacher, f"cd course && nbgrader generate_assignment {ASSIGNMENT} && nbgrader release_assignment {ASSIGNMENT}")

    # 2. each student fetches, works, submits
    for role, (answer, _) in WORK.items():
        name = users[role]
        _ok(hub, name, f"nbgrader fetch_assignment {ASSIGNMENT}")
        if answer:
            hub.run(name, "import nbformat, re\n"
                          f"p = '{ASSIGNMENT}/{ASSIGNMENT}.ipynb'\nnb = nbformat.read(p, as_version=4)\n"
                          "cell = next(c for c in nb.cells if 'NotImplementedError' in c.source)\n"
                          f"cell.source = re.sub(r'# YOUR CODE HERE\\n\\s*raise NotImplementedError\\(\\)', {answer!r}, cell.source)\n"
                          "nbformat.write(nb, p)")
        _ok(hub, name, f"nbgrader submit {ASSIGNMENT}")

    # 3. permissions: another student's work and submissions, the instructor's source, solutions and gradebook,
    #    the shared FER2013 (read-only)
    inbound = hub.base / "exchange" / "emojimation" / "inbound"
    submissions = sorted(inbound.iterdir())
    # nbgrader names each submission student+assignment+time+12 random characters (72 bits) in an inbound folder
    # students cannot list: a submission's files are world-readable (0644) to whoever knows that name, so its
    # secrecy rests on the name (nbgrader 0.9.6's design; tested here: the folder cannot be listed).
    assert len(submissions) == 3, submissions
    assert all(len(p.name.split("+")) == 4 and len(p.name.split("+")[3]) >= 12 for p in submissions), submissions
    probe = users["wrong"]
    targets = {
        "another student's fetched and answered notebook": homes["full"] / ASSIGNMENT / f"{ASSIGNMENT}.ipynb",
        "the exchange's inbound folder (every submission)": inbound,
        "the instructor's source with its solutions": homes["instructor"] / "course" / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb",
        "the instructor's gradebook": homes["instructor"] / "course" / "gradebook.db",
        "the instructor's release folder": homes["instructor"] / "course" / "release",
    }
    assert all(p.exists() for p in targets.values())
    code = ("import os, json\nres = {}\n"
            f"for what, path in {json.dumps({k: str(v) for k, v in targets.items()})}.items():\n"
            "    try:\n"
            "        os.listdir(path) if os.path.isdir(path) else open(path, 'rb').read(1)\n"
            "        res[what] = 'READ'\n"
            "    except PermissionError as err:\n"
            "        res[what] = 'refused: ' + type(err).__name__\n"
            "print(json.dumps(res))")
    refused = json.loads(hub.run(probe, code).strip().splitlines()[-1])
    print("a student's attempts:", json.dumps(refused, indent=1))
    assert all(v.startswith("refused") for v in refused.values()), refused
    data = os.environ.get("EMOLIB_DATA")
    if data and Path(data).is_dir():
        rc, out = hub.sh(probe, f"touch {data}/written-by-a-student")
        assert rc != 0 and "denied" in out.lower(), f"a student could write to FER2013: {out}"

    # 4. the instructor collects, autogrades, writes and releases feedback, exports the grades
    log = _ok(hub, teacher, f"cd course && nbgrader collect {ASSIGNMENT} && nbgrader autograde {ASSIGNMENT} "
                            f"&& nbgrader generate_feedback {ASSIGNMENT} && nbgrader release_feedback {ASSIGNMENT} "
                      "&& nbgrader export --to grades.csv")
    assert "ERROR" not in log, log
    grades_csv = hub.run(teacher, "print(open('course/grades.csv').read())")
    grades = {row["student_id"]: float(row["raw_score"]) for row in csv.DictReader(io.StringIO(grades_csv))}
    print("grades:", grades)
    assert grades == {users[role]: score for role, (_, score) in WORK.items()}
    maxima = {row["max_score"] for row in csv.DictReader(io.StringIO(grades_csv))}
    assert maxima == {"3.0"}, maxima

    # 5. each student fetches their own feedback, which states their own score
    for role, (_, score) in WORK.items():
        name = users[role]
        _ok(hub, name, f"nbgrader fetch_feedback {ASSIGNMENT}")
        html = hub.run(name, "import glob\n"
                             f"print(open(glob.glob('{ASSIGNMENT}/feedback/*/{ASSIGNMENT}.html')[0]).read())")
        assert re.search(rf"Score:\s*{score}\s*/\s*3\.0", html), f"{role}'s feedback does not say {score} / 3.0"
        assert name in html or ASSIGNMENT in html
    feedback = hub.base / "exchange" / "emojimation" / "feedback"
    out = hub.run(probe, f"import os\ntry:\n    print(os.listdir({str(feedback)!r}))\nexcept PermissionError:\n    print('refused')")
    assert out.strip() == "refused", f"a student can list every feedback file: {out}"
    print(f"servers spawned in {spawned:.0f} s; the whole round trip {time.perf_counter() - start:.0f} s")
