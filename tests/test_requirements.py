"""requirements.txt installs on every supported laptop, and pyproject.toml agrees with it.

For each platform (Linux x86-64, macOS arm64, Windows x86-64) and each Python that
pyproject's ``requires-python`` admits, pip's own resolver resolves the whole file in
dry-run mode, wheels only (``pip install --dry-run --only-binary=:all: --platform ...
--python-version ...``): one call per platform and Python, all started at once, with pip's
own cache (``PIP_CACHE_DIR`` or its default). Measured on the development machine: 7 min 23 s and 8 min 5 s (two runs) while other
jobs kept its 2 cores at a load of 6 to 13 (about 3 min of CPU). There every run fetches everything: the network
proxy strips PyPI's cache headers, so pip's cache stays empty (elsewhere it should make a second run faster; not measured).

pip evaluates environment markers (``sys_platform == "darwin"``) for the machine it
runs on, not for ``--platform``; so pip is run through a three-line wrapper that hands
its marker evaluation the target's environment, for the file's lines and for every
dependency's own markers alike.

The check needs PyPI: without it the test is skipped with the reason, except under
CI (``CI=true``), where it fails. It ignores this machine's pip configuration
(extra find-links, constraints): ``PIP_CONFIG_FILE`` is the null device.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
import urllib.request
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

import emolib
import emolib.data
from tests.conftest import require

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))

#: pip ``--platform`` tags (pip expands macOS to older versions itself, not manylinux) and marker values.
PLATFORMS = {
    "linux-x86_64": {
        "tags": [f"manylinux_2_{g}_x86_64" for g in range(17, 29)] + ["manylinux2014_x86_64"],
        "env": {"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix"},
        "tensorflow": "tensorflow-cpu",
    },
    "macos-arm64": {
        "tags": ["macosx_13_0_arm64"],  # macOS 13 (Ventura) or later: opencv-python-headless 5 needs it
        "env": {"sys_platform": "darwin", "platform_system": "Darwin", "platform_machine": "arm64", "os_name": "posix"},
        "tensorflow": "tensorflow",
    },
    "windows-x86_64": {
        "tags": ["win_amd64"],
        "env": {"sys_platform": "win32", "platform_system": "Windows", "platform_machine": "AMD64", "os_name": "nt"},
        "tensorflow": "tensorflow-cpu",
    },
}

# Runs pip with every marker evaluated for the target (argv[1]: the marker environment as JSON).
PIP_FOR_TARGET = (
    "import json, runpy, sys; import pip._vendor.packaging.markers as m; "
    "env = {**m.default_environment(), **json.loads(sys.argv.pop(1))}; "
    "m.default_environment = lambda: dict(env); sys.argv[0] = 'pip'; "
    "runpy.run_module('pip', run_name='__main__', alter_sys=True)"
)
#: pip settings kept from the environment (how to reach an index); all others are dropped.
PIP_ENV_KEPT = {"PIP_CERT", "PIP_CLIENT_CERT", "PIP_PROXY", "PIP_INDEX_URL", "PIP_TRUSTED_HOST",
                "PIP_DEFAULT_TIMEOUT", "PIP_RETRIES", "PIP_CACHE_DIR"}


def read_requirements(path: Path = ROOT / "requirements.txt") -> list[Requirement]:
    """The requirement lines of a requirements file (comments and blank lines skipped)."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [Requirement(line) for line in lines if line]


def supported_pythons() -> list[str]:
    """The Python minor versions (``"3.11"``, ...) that pyproject's requires-python admits."""
    spec = SpecifierSet(PYPROJECT["project"]["requires-python"])
    return [f"3.{m}" for m in range(8, 30) if f"3.{m}.0" in spec]


def marker_env(platform: str, python: str) -> dict[str, str]:
    """Marker values of a target platform and Python."""
    return {**PLATFORMS[platform]["env"], "python_version": python, "python_full_version": f"{python}.0",
            "implementation_name": "cpython", "platform_python_implementation": "CPython",
            "implementation_version": f"{python}.0"}


def pypi_reachable() -> str | None:
    """None when PyPI answers, else the reason."""
    try:
        urllib.request.urlopen("https://pypi.org/simple/pip/", timeout=15).close()
        return None
    except OSError as err:
        return f"PyPI is not reachable ({err})"


@pytest.fixture(scope="module")
def pypi():
    reason = pypi_reachable()
    require(not reason, f"{reason}: the install check for every platform needs it")


# --------------------------------------------------------------------------- agreement (no network)
def test_supported_pythons_agree():
    pythons = supported_pythons()
    low, high = emolib.SUPPORTED_PYTHON
    assert pythons[0] == "%d.%d" % low and pythons[-1] == "%d.%d" % high, (pythons, emolib.SUPPORTED_PYTHON)
    assert {"3.11", "3.12"} <= set(pythons)
    assert f"{sys.version_info[0]}.{sys.version_info[1]}" in pythons, "the tests run on an unsupported Python"


def test_every_line_is_pinned_once():
    reqs = read_requirements()
    for r in reqs:
        assert len(r.specifier) == 1 and next(iter(r.specifier)).operator == "==", f"{r} is not an exact pin"
    for platform in PLATFORMS:
        for python in supported_pythons():
            names = [canonicalize_name(r.name) for r in reqs if r.marker is None
                     or r.marker.evaluate(marker_env(platform, python))]
            assert len(names) == len(set(names)), f"{platform} {python}: a package is listed twice"


@pytest.mark.parametrize("platform", PLATFORMS)
def test_tensorflow_line_per_platform(platform):
    chosen = [r.name for r in read_requirements() if r.name.startswith("tensorflow")
              and (r.marker is None or r.marker.evaluate(marker_env(platform, "3.12")))]
    assert chosen == [PLATFORMS[platform]["tensorflow"]]


def _pyproject_requirements() -> list[Requirement]:
    """pyproject's dependencies and extras, but ``gpu``: requirements.txt pins the ``cpu`` TensorFlow instead."""
    project = PYPROJECT["project"]
    lines = list(project["dependencies"])
    for name, extra in project.get("optional-dependencies", {}).items():
        lines += extra if name != "gpu" else []
    return [Requirement(line) for line in lines]


def test_tensorflow_is_an_extra_cpu_or_gpu_of_one_version():
    """TensorFlow is not a dependency (a user's GPU build is never joined by tensorflow-cpu): the ``cpu`` extra
    gives the CPU build, the ``gpu`` extra the CUDA one, both from the same versions."""
    project = PYPROJECT["project"]
    assert not [r for r in project["dependencies"] if Requirement(r).name.startswith("tensorflow")]
    extras = {name: [Requirement(r) for r in lines] for name, lines in project["optional-dependencies"].items()}
    assert {r.name for r in extras["cpu"]} == {"tensorflow-cpu", "tensorflow"}
    (gpu,) = extras["gpu"]
    assert gpu.name == "tensorflow" and gpu.extras == {"and-cuda"}
    assert {str(r.specifier) for r in extras["cpu"]} == {str(gpu.specifier)}


def test_every_import_is_declared():
    """Each third-party package emolib imports is a dependency of pyproject.toml (TensorFlow: an extra)."""
    import ast

    declared = {canonicalize_name(r.name) for r in _pyproject_requirements()}
    module_of = {"cv2": "opencv-python-headless", "PIL": "pillow", "pillow_heif": "pillow-heif",
                 "sklearn": "scikit-learn", "ai_edge_litert": "ai-edge-litert"}
    # imported only where the package that brings them runs: Voila's server (the course extra), ipywidgets' traits
    optional = {"jupyter_server", "traitlets"}
    found = set()
    for path in (ROOT / "emolib").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else []
            found |= {n.split(".")[0] for n in names}
    third_party = found - set(sys.stdlib_module_names) - {"emolib", "__future__"} - optional
    missing = {m for m in third_party if canonicalize_name(module_of.get(m, m)) not in declared}
    assert not missing, f"imported by emolib, not declared in pyproject.toml: {sorted(missing)}"


def test_pyproject_agrees_with_requirements():
    pinned = {(canonicalize_name(r.name), str(r.marker)): r for r in read_requirements()}
    ranged = {(canonicalize_name(r.name), str(r.marker)): r for r in _pyproject_requirements()}
    assert sorted(pinned) == sorted(ranged), "pyproject.toml and requirements.txt list different packages or markers"
    for key, r in ranged.items():
        version = next(iter(pinned[key].specifier)).version
        assert r.specifier.contains(version), f"pyproject's {r} does not admit requirements.txt's {pinned[key]}"


def test_python_problem_message():
    assert emolib.python_problem((3, 12)) is None
    message = emolib.python_problem((3, 99))
    assert "3.11 to 3.13" in message and "3.99" in message



def test_version_is_written_once_and_installed_as_written():
    """pyproject reads the version from emolib.__version__; the installed metadata says the same
    (after changing it: pip install --no-deps -e .)."""
    from importlib.metadata import version

    project = PYPROJECT["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "emolib.__version__"}
    assert version("emolib") == emolib.__version__, "the installed emolib is stale: pip install --no-deps -e ."

# --------------------------------------------------------------------------- resolution (PyPI)
def _pip_env() -> dict[str, str]:
    """This environment without pip settings other than how to reach an index; no config file."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_") or k in PIP_ENV_KEPT}
    env["PIP_CONFIG_FILE"] = os.devnull
    return env


@pytest.fixture(scope="module")
def resolutions(pypi, tmp_path_factory):
    """Start pip's dry-run resolution for every platform and Python at once (they mostly wait on
    the network); each test then waits for its own. Values: (process, report path)."""
    started = {}
    for platform in PLATFORMS:
        for python in supported_pythons():
            work = tmp_path_factory.mktemp(f"pip-{platform}-{python}")
            cmd = [sys.executable, "-c", PIP_FOR_TARGET, json.dumps(marker_env(platform, python)),
                   "install", "--dry-run", "--ignore-installed", "--only-binary=:all:", "--quiet",
                   "--disable-pip-version-check", "--python-version", python, "--target", str(work / "target"),
                   "--report", str(work / "report.json"),
                   "-r", str(ROOT / "requirements.txt")]
            for tag in PLATFORMS[platform]["tags"]:
                cmd += ["--platform", tag]
            started[platform, python] = (subprocess.Popen(cmd, env=_pip_env(), stdout=subprocess.PIPE,
                                                          stderr=subprocess.PIPE, text=True), work / "report.json")
    yield started
    for proc, _ in started.values():
        if proc.poll() is None:
            proc.kill()


@pytest.mark.parametrize("python", supported_pythons())
@pytest.mark.parametrize("platform", PLATFORMS)
def test_requirements_resolve(platform, python, resolutions):
    """pip resolves requirements.txt to wheels only, for this platform and Python."""
    proc, report = resolutions[platform, python]
    _, stderr = proc.communicate(timeout=900)
    assert proc.returncode == 0, f"{platform}, Python {python}: pip cannot resolve requirements.txt:\n{stderr[-3000:]}"
    installed = {canonicalize_name(item["metadata"]["name"]): item for item in json.loads(report.read_text())["install"]}
    for r in read_requirements():  # the file's own lines: present, at the pinned version, as wheels for the target
        if r.marker is not None and not r.marker.evaluate(marker_env(platform, python)):
            assert canonicalize_name(r.name) not in installed, f"{r.name} resolved although its marker excludes it"
            continue
        item = installed[canonicalize_name(r.name)]
        assert item["metadata"]["version"] == next(iter(r.specifier)).version
        wheel = item["download_info"]["url"].rsplit("/", 1)[-1]
        assert wheel.endswith(".whl"), wheel
    tf_wheel = installed[PLATFORMS[platform]["tensorflow"]]["download_info"]["url"].rsplit("/", 1)[-1]
    assert f"cp{python.replace('.', '')}" in tf_wheel
    assert {"linux-x86_64": "manylinux", "macos-arm64": "macosx", "windows-x86_64": "win_amd64"}[platform] in tf_wheel


# --------------------------------------------------------------------------- packaging
@pytest.fixture(scope="module")
def wheel(pypi, tmp_path_factory) -> tuple[Path, str]:
    """``pip wheel -v .`` (what a non-editable install builds): the wheel and the build backend's output. It is
    built from a copy of the project's files (tracked, or new and not ignored), as a fresh clone has them:
    setuptools builds in place and would leave ``build/`` in the checkout."""
    out, source = tmp_path_factory.mktemp("wheel"), tmp_path_factory.mktemp("source")
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split("\0")
    for name in filter(None, files):
        if (ROOT / name).is_file():  # not one deleted but not yet committed
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "--disable-pip-version-check",
                           "-w", str(out), str(source)], env=_pip_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (built,) = out.glob("emolib-*.whl")
    return built, proc.stdout + proc.stderr


def test_wheel_holds_every_asset_quietly(wheel):
    """The wheel packs every tracked file of emolib, assets included, without setuptools' "Package would be
    ignored" warnings."""
    wheel, backend = wheel  # -v: the build backend's own output
    assert "running bdist_wheel" in backend, "pip did not show the backend's output: the check below would be blind"
    assert "would be ignored" not in backend and "Warning:" not in backend, backend[-3000:]
    import zipfile

    packed = set(zipfile.ZipFile(wheel).namelist())
    tracked = subprocess.run(["git", "ls-files", "emolib"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    assert tracked and not set(tracked) - packed, f"missing from the wheel: {sorted(set(tracked) - packed)}"


@pytest.mark.slow
def test_the_wheel_works_installed_outside_the_checkout(wheel, tmp_path):
    """The wheel installed in a fresh virtual environment, run from a folder outside the checkout: ``predict`` on
    the sample photos finds faces and names emotions, ``app --help`` answers, and ``ship`` will not write into the
    installed package. Its dependencies come from this environment (``--no-deps``, this site-packages linked in),
    so no download is needed."""
    import site
    import sysconfig

    wheel, _ = wheel
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    purelib = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  capture_output=True, text=True, check=True).stdout.strip())
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index",
                    "--disable-pip-version-check", "--quiet", str(wheel)], check=True, timeout=300,
                   env={k: v for k, v in _pip_env().items() if k != "PYTHONPATH"})  # this checkout is not emolib
    # then, and only then (pip would take the emolib of this environment for installed), its dependencies
    deps = [p for p in site.getsitepackages() + [sysconfig.get_paths()["purelib"]] if Path(p).is_dir()]
    (purelib / "dependencies.pth").write_text("\n".join(dict.fromkeys(deps)) + "\n")  # after the venv's own
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "EMOLIB_DATA")}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"

    def emolib_cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(python), "-m", "emolib", *args], cwd=work, env=env, capture_output=True,
                              text=True, timeout=600)

    where = subprocess.run([str(python), "-c", "import emolib; print(emolib.__file__)"], cwd=work, env=env,
                           capture_output=True, text=True, check=True).stdout.strip()
    assert Path(where).is_relative_to(venv), f"emolib imported from {where}, not from the installed wheel"
    predicted = emolib_cli("predict", "--samples", "--json")
    assert predicted.returncode == 0, predicted.stderr[-3000:]
    report = json.loads(predicted.stdout)
    faces = [f for photo in report for f in photo["faces"]]
    assert report and faces and all(f["label"] in emolib.data.CLASS_NAMES for f in faces)
    helped = emolib_cli("app", "--help")
    assert helped.returncode == 0 and "--views" in helped.stdout, helped.stderr[-3000:]
    shipped = emolib_cli("ship", "litert")
    assert shipped.returncode == 2 and "ship never writes into an installed package" in shipped.stderr
    shipped = emolib_cli("ship", "litert", "--assets", str(Path(where).parent / "assets"))
    assert shipped.returncode == 2 and "inside the installed emolib" in shipped.stderr, shipped.stderr[-2000:]
