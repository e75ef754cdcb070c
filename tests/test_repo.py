"""Repository-wide checks: the Colab cell of every notebook, no machine paths in tracked
files, the README as a short onboarding page."""
from __future__ import annotations

import contextlib
import io
import os
import re
import runpy
import subprocess
import sys
import tempfile
import types
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent


colab_cell = types.SimpleNamespace(**runpy.run_path(str(ROOT / "tools" / "colab_cell.py")))


def tracked_files() -> list[Path]:
    """The files git tracks in this checkout."""
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    return [ROOT / name for name in out.decode().split("\0") if name]


# --------------------------------------------------------------------------- Colab
#: A published address, for the tests of the cell as it will be once pyproject names the real repository.
SOME_REPOSITORY = "https://github.com/someone/emojimation"


def test_colab_cell_names_the_repository_once():
    source = colab_cell.cell_source(SOME_REPOSITORY)
    assert source.count(SOME_REPOSITORY) == 1 and "REPOSITORY = None" not in source
    compile(source, "colab-setup", "exec")
    current = colab_cell.cell_source()
    if colab_cell.published():
        assert current.count(colab_cell.repository()) == 1 and colab_cell.repository().startswith("https://")
    else:  # still the placeholder: the notebooks name no repository
        assert colab_cell.repository().rstrip("/") == colab_cell.PLACEHOLDER
        assert colab_cell.PLACEHOLDER not in current and "REPOSITORY = None" in current
    compile(current, "colab-setup", "exec")


@pytest.mark.parametrize("path", colab_cell.numbered_notebooks(), ids=lambda p: p.name)
def test_first_code_cell_is_the_colab_cell(path):
    """Fails until the cell is stamped: python tools/colab_cell.py"""
    first = colab_cell.first_code_cell(nbformat.read(path, as_version=4))
    assert first is not None and first.source == colab_cell.cell_source(), \
        f"{path.name}: the first code cell is not the Colab cell; run  python tools/colab_cell.py"


@pytest.mark.parametrize("address", [None, SOME_REPOSITORY], ids=["as-stamped", "published"])
def test_colab_cell_does_nothing_outside_colab(monkeypatch, address):
    """Run outside Colab, the cell calls no pip, prints nothing and sets nothing."""
    assert "google.colab" not in sys.modules
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: calls.append(a))
    monkeypatch.setattr(subprocess, "call", lambda *a, **k: calls.append(a))
    env_before = dict(os.environ)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        exec(compile(colab_cell.cell_source(address), "colab-setup", "exec"), {"__name__": "__main__"})
    assert calls == [] and out.getvalue() == "" and err.getvalue() == ""
    assert dict(os.environ) == env_before


@pytest.fixture()
def on_colab(monkeypatch):
    """A stand-in ``google.colab`` module, pip and emolib's metadata; yields (calls, environ)."""
    from importlib import metadata

    google = types.ModuleType("google")
    colab = types.ModuleType("google.colab")
    colab.output = types.SimpleNamespace(enable_custom_widget_manager=lambda: calls.append(["widgets"]))
    google.colab = colab
    monkeypatch.setitem(sys.modules, "google", google)
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    monkeypatch.setitem(sys.modules, "google.colab.output", colab.output)
    environ = {k: v for k, v in os.environ.items() if k != "EMOLIB_DATA"}
    monkeypatch.setattr(os, "environ", environ)  # what the cell sets stays in this test
    calls: list = []
    monkeypatch.setattr(subprocess, "run", lambda cmd, **k: calls.append(cmd))
    monkeypatch.setattr(metadata, "requires", lambda name: [
        'tensorflow-cpu>=2.16; sys_platform != "darwin"', "keras>=3.0", 'pytest>=8; extra == "test"'])
    return calls, environ


def _run_cell(source: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(source, "colab-setup", "exec"), {"__name__": "__main__"})
    return out.getvalue()


def test_colab_cell_on_colab_installs(on_colab):
    """Once the repository is published, the cell installs emolib from it without deps, then its
    requirements except TensorFlow, and names the download command."""
    calls, environ = on_colab
    out = _run_cell(colab_cell.cell_source(SOME_REPOSITORY))
    assert calls[0][-2:] == ["--no-deps", f"emolib @ git+{SOME_REPOSITORY}"]
    assert calls[1][-1:] == ["keras>=3.0"] and calls[2] == ["widgets"]
    assert environ["EMOLIB_DATA"] == "/content/fer2013"
    assert "python -m emolib download" in out


def test_colab_cell_on_colab_with_the_placeholder_installs_nothing_and_says_so(on_colab):
    calls, environ = on_colab
    out = _run_cell(colab_cell.cell_source(colab_cell.PLACEHOLDER))
    assert calls == [] and "EMOLIB_DATA" not in environ
    assert "emolib is NOT installed" in out and "[project.urls] Repository" in out and "colab_cell.py" in out


# --------------------------------------------------------------------------- machine paths
#: Folders every machine has; a tracked file may name them (``/tmp`` in an example, say).
SYSTEM_DIRS = ("/tmp", "/var/tmp", "/home", "/usr", "/opt", "/var", "/srv", "/mnt", "/media", "/Users")


def machine_paths() -> list[str]:
    """Absolute paths of this machine that must not appear in tracked files: the checkout,
    the folder holding it, the home folder, and the FER2013 folder in use."""
    paths = {ROOT, ROOT.parent, Path.home()}
    if os.environ.get("EMOLIB_DATA"):
        paths.add(Path(os.environ["EMOLIB_DATA"]).expanduser())
    with contextlib.suppress(Exception):
        from emolib.data import find_data

        paths.add(find_data())
    generic = {Path(tempfile.gettempdir()), *(Path(d) for d in SYSTEM_DIRS)}  # a clone in /tmp/x: "/tmp" is fine
    found = set()
    for p in paths:
        for q in (p, p.resolve()):
            if len(q.parts) > 1 and q not in generic:
                found.add(str(q))
    return sorted(found)


def machine_path_pattern() -> re.Pattern:
    """Any of :func:`machine_paths` as a whole path: ``<folder>/x`` but not ``<folder>shop``, nor a bare
    ``<folder>/|`` inside a regular expression."""
    return re.compile("|".join(rf"(?<![\w.-]){re.escape(p)}(?![\w.-])(?!/(?![\w.-]))" for p in machine_paths()))


def test_no_machine_paths_in_tracked_files():
    """No tracked text file (notebook outputs included) names a folder of this machine."""
    pattern = machine_path_pattern()
    offenders = []
    for path in tracked_files():
        if not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # binary
        for lineno, line in enumerate(text.splitlines(), 1):
            match = pattern.search(line)
            if match:
                offenders.append(f"{path.relative_to(ROOT)}:{lineno}: {match.group(0)}")
    assert not offenders, "machine paths in tracked files:\n" + "\n".join(offenders[:30])


def test_machine_path_check_catches_a_path(tmp_path):
    pattern = machine_path_pattern()
    assert pattern.search(f'"source": "{ROOT}/data/fer2013"')
    assert pattern.search(f"loaded from {ROOT}")
    assert not pattern.search("data/fer2013") and not pattern.search(f"https://example.org{ROOT}")
    assert not pattern.search(f"re.compile(r'({Path.home()}/|/Users/)')")  # a pattern naming a folder, not a path


# --------------------------------------------------------------------------- licence
def test_license_file_is_the_mit_licence_pyproject_names():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]
    assert text.startswith("MIT License\n") and "Copyright (c) 2026 the Emojimation contributors" in text


# --------------------------------------------------------------------------- README
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_is_short():
    words = len(README.split())
    assert words < 1600, f"the README has {words} words; onboarding stays under about 1,500"


def test_readme_links_and_figures_exist():
    targets = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README)
    local = [t for t in targets if not t.startswith(("http://", "https://"))]
    assert local, "no local links found"
    missing = [t for t in local if not (ROOT / t).exists()]
    assert not missing, f"README links to missing files: {missing}"
    for figure in ("demo_upload.png", "demo_webcam.png", "demo_group.png", "demo_app.png"):
        assert f"figures/{figure}" in README


def test_readme_results_table_is_comparison_table():
    """The README's results rows are exactly emolib.evaluate.comparison_table(), never typed."""
    from emolib.evaluate import comparison_table

    for _, row in comparison_table().iterrows():
        line = "| " + " | ".join(str(x) for x in row.tolist()) + " |"
        assert line in README, f"README results table lacks or differs from: {line}"


def _make_recipe(target: str) -> str:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    match = re.search(rf"^{target}:.*\n\t(.+)$", makefile, re.M)
    assert match, f"no make target {target}"
    return match.group(1)


@pytest.mark.parametrize("target", ["demo", "test", "test-all", "app"])
def test_readme_windows_commands_are_the_makefile_commands(target):
    """The README's Windows commands run what the Makefile's targets run."""
    command = _make_recipe(target).replace("$(BIN)/python", r".venv\Scripts\python").replace("/", "\\")
    assert command in README, f"README's Windows section lacks `{command}` (make {target})"


def test_readme_quick_start_commands():
    for command in ("make demo", "make test", "make test-all", "make lab", "make app", "python -m emolib download"):
        assert command in README
    assert re.search(r"^make test-all$", (ROOT / ".ci" / "run").read_text(encoding="utf-8"), re.M)


def test_make_test_leaves_out_every_marked_tier_and_test_all_nothing():
    """`make test` deselects exactly the markers pyproject registers (a typo would select nothing or too much);
    `make test-all` runs everything. An empty selection fails either target: pytest exits 5."""
    import tomllib

    ini = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["pytest"]["ini_options"]
    markers = [line.split(":")[0] for line in ini["markers"]]
    assert {"slow", "notebook", "browser", "real_data", "network"} <= set(markers)
    assert "--strict-markers" in ini["addopts"]
    fast = re.fullmatch(r'\$\(BIN\)/python -m pytest -n 2 -m "([^"]+)"', _make_recipe("test"))
    assert fast and fast.group(1) == " and ".join(f"not {m}" for m in markers), _make_recipe("test")
    assert _make_recipe("test-all") == "$(BIN)/python -m pytest -n 2"
    assert "--dist loadfile" in ini["addopts"]  # two workers (pytest-xdist), a file whole to one (conftest.py)



def test_make_demo_writes_to_an_ignored_folder():
    """`make demo` writes its annotated photos where git does not look, never over tracked files."""
    out = re.search(r"--out (\S+)", _make_recipe("demo")).group(1)
    ignored = subprocess.run(["git", "check-ignore", "-q", f"{out}/grace_hopper_emoji.png"], cwd=ROOT)
    assert ignored.returncode == 0, f"make demo writes to {out}/, which git does not ignore"
    assert f"-> {out}/" in README

SCRIPTS = sorted(p.relative_to(ROOT).as_posix() for folder in ("tools", "benchmarks")
                 for p in (ROOT / folder).glob("*.py"))
#: Scripts that import TensorFlow before they parse their arguments: 6-8 s each for --help.
SLOW_HELP = {"benchmarks/benchmark_models.py", "benchmarks/benchmark_recipes.py"}


#: What notebook 01 saves into the checkout (ignored by git), maybe at the same time on the other worker.
NOTEBOOK_OUTPUTS = ("figures/class_distribution.png", "figures/mean_faces.png")


@pytest.mark.parametrize("script", [pytest.param(s, marks=pytest.mark.slow if s in SLOW_HELP else ())
                                    for s in SCRIPTS])
def test_script_help_runs_without_data_and_writes_nothing(script, tmp_path):
    """``python tools/X.py --help`` (and every benchmark's) prints its usage and exits 0, with no dataset and without
    touching the repository."""
    status = ["git", "status", "--porcelain", "--ignored", "--", ".", *(f":(exclude){p}" for p in NOTEBOOK_OUTPUTS)]
    before = subprocess.run(status, cwd=ROOT, capture_output=True, text=True).stdout
    env = {k: v for k, v in os.environ.items() if k != "EMOLIB_DATA"} | {"PYTHONDONTWRITEBYTECODE": "1"}
    out = subprocess.run([sys.executable, str(ROOT / script), "--help"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "usage:" in out.stdout
    after = subprocess.run(status, cwd=ROOT, capture_output=True, text=True).stdout
    assert after == before
