"""The course runs from a read-only copy (a lab's shared folder): what a notebook saves goes to a folder the
student can write (emolib.outputs), said in the output, and no file of the copy changes."""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from emolib.outputs import output_folder, user_folder

REPO = Path(__file__).resolve().parent.parent
NOTEBOOK = REPO / "notebooks" / "01_exploring_fer2013.ipynb"
#: Runs "$@" with the folder $1 mounted read-only, in a mount namespace of its own (for root, whom file modes
#: do not stop).
READ_ONLY = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"'


def test_output_folder_is_the_course_folder_when_it_can_be_written(tmp_path, capsys):
    assert output_folder(tmp_path / "figures") == tmp_path / "figures" and (tmp_path / "figures").is_dir()
    assert capsys.readouterr().out == ""


def test_output_folder_falls_back_to_a_user_folder_and_says_so(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "course"
    blocker.write_text("a file where the folder should be")  # nothing can be created below it, even by root
    monkeypatch.setenv("EMOLIB_OUTPUT", str(tmp_path / "mine"))
    assert output_folder(blocker / "figures") == tmp_path / "mine" / "figures" == user_folder("figures")
    out = capsys.readouterr().out
    assert "cannot be written here" in out and str(tmp_path / "mine" / "figures") in out


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.slow
@pytest.mark.notebook
@pytest.mark.real_data
def test_notebook_01_runs_from_a_read_only_copy(tmp_path, real_data):
    course, home, out = tmp_path / "course", tmp_path / "home", tmp_path / "executed"
    (course / "notebooks").mkdir(parents=True)
    shutil.copy(NOTEBOOK, course / "notebooks")
    shutil.copytree(REPO / "figures", course / "figures")
    home.mkdir()
    before = _digest(course)
    command = [sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
               "--ExecutePreprocessor.timeout=600", "--output-dir", str(out), str(course / "notebooks" / NOTEBOOK.name)]
    env = {k: v for k, v in os.environ.items() if k != "EMOLIB_OUTPUT"}
    from emolib.data import default_cache_dir

    env["EMOLIB_CACHE"] = str(default_cache_dir())  # the FER2013 cache of this account, not a new one under HOME
    env["HOME"] = str(home)
    if os.geteuid() == 0:
        if shutil.which("unshare") is None or subprocess.run(["unshare", "-m", "true"]).returncode != 0:
            pytest.skip("running as root without unshare: a read-only copy cannot be made")
        command = ["unshare", "-m", "sh", "-c", READ_ONLY, "sh", str(course), *command]
    else:
        for path in [course, *course.rglob("*")]:
            path.chmod(path.stat().st_mode & ~0o222)
    try:
        proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    finally:
        for path in [course, *course.rglob("*")]:
            path.chmod(path.stat().st_mode | 0o200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert _digest(course) == before, "the read-only copy changed"
    nb = nbformat.read(out / NOTEBOOK.name, as_version=4)
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "cannot be written here" in printed and "~/emojimation/figures" in printed, printed[:1000]
    saved = sorted(p.name for p in (home / "emojimation" / "figures").iterdir())
    assert saved == ["class_distribution.png", "mean_faces.png"], saved
