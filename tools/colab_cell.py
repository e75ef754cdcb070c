"""Stamp the Colab set-up cell into every numbered notebook, from one template.

The cell installs emolib from the project's repository (``[project.urls] Repository`` in
pyproject.toml: the one place that names it) when the notebook runs on Google Colab,
and does nothing anywhere else. While that address is still :data:`PLACEHOLDER`, the
project is not published: the cell is stamped with ``REPOSITORY = None`` and, on Colab,
says so and installs nothing. It becomes each notebook's first code cell (tagged
``colab-setup``); running the script again updates it in place (run it once the real
address is in pyproject.toml).

    python tools/colab_cell.py            # stamp notebooks/[0-9][0-9]_*.ipynb
    python tools/colab_cell.py --check    # list the notebooks whose cell differs (exit 1)
"""
from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
TAG = "colab-setup"

#: The address pyproject.toml names until the project is published; it is no repository to install from.
PLACEHOLDER = "https://github.com/emojimation/emojimation"

TEMPLATE = '''\
# On Google Colab only: install emolib from the course's repository (this cell does nothing elsewhere).
import sys

if "google.colab" in sys.modules:
    import importlib
    import os
    import subprocess
    from importlib.metadata import requires

    from google.colab import output

    REPOSITORY = {repository}  # None until the course's repository is published
    if REPOSITORY is None:
        print("emolib is NOT installed: this copy of the course does not name its repository yet. Ask your "
              "instructor, or run the course on your own computer (see the README). Maintainers: set "
              "[project.urls] Repository in pyproject.toml, then run  python tools/colab_cell.py")
    else:
        pip = [sys.executable, "-m", "pip", "install", "--quiet"]
        subprocess.run(pip + ["--no-deps", f"emolib @ git+{{REPOSITORY}}"], check=True)
        importlib.invalidate_caches()
        # emolib's requirements, except TensorFlow: Colab's own build (with GPU support) is kept
        subprocess.run(pip + [r for r in requires("emolib") if "extra ==" not in r
                              and not r.startswith("tensorflow")], check=True)
        output.enable_custom_widget_manager()  # the course's widgets are third-party ipywidgets
        os.environ.setdefault("EMOLIB_DATA", "/content/fer2013")
        print("emolib is installed. FER2013 is not: run  !python -m emolib download  in a cell "
              "(it needs your Kaggle token, see the README), once per Colab session.")
'''


def repository() -> str:
    """The project's repository address, from pyproject.toml."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return project["urls"]["Repository"]


def published(address: str | None = None) -> bool:
    """Whether ``address`` (default: pyproject's) is a real repository, not :data:`PLACEHOLDER`."""
    return (address or repository()).rstrip("/") != PLACEHOLDER


def cell_source(address: str | None = None) -> str:
    """The cell's code for ``address`` (default: pyproject's): ``REPOSITORY = None`` while it is the placeholder."""
    address = address or repository()
    return TEMPLATE.format(repository=f'"{address}"' if published(address) else None).rstrip("\n")


def numbered_notebooks() -> list[Path]:
    """The course's notebooks: ``notebooks/NN_*.ipynb``."""
    return sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def first_code_cell(nb: nbformat.NotebookNode) -> nbformat.NotebookNode | None:
    """The notebook's first code cell, or None."""
    return next((c for c in nb.cells if c.cell_type == "code"), None)


def stamp(path: Path) -> bool:
    """Make the Colab cell ``path``'s first code cell; True when the file changed."""
    nb = nbformat.read(path, as_version=4)
    source = cell_source()
    old = [c for c in nb.cells if TAG in c.get("metadata", {}).get("tags", [])]
    first = first_code_cell(nb)
    if len(old) == 1 and old[0] is first and first.source == source:
        return False
    nb.cells = [c for c in nb.cells if not any(c is o for o in old)]
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": [TAG]})
    cell.id = TAG
    at = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"), len(nb.cells))
    nb.cells.insert(at, cell)
    nbformat.validate(nb)
    nbformat.write(nb, path)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only list notebooks whose Colab cell is not current")
    args = parser.parse_args(argv)
    stale = []
    for path in numbered_notebooks():
        nb = nbformat.read(path, as_version=4)
        first = first_code_cell(nb)
        if first is None or first.source != cell_source():
            stale.append(path)
    if args.check:
        for path in stale:
            print(f"{path.relative_to(ROOT)}: the Colab cell is missing or not current", file=sys.stderr)
        return 1 if stale else 0
    for path in stale:
        stamp(path)
        print(f"stamped {path.relative_to(ROOT)}")
    if not published():
        print(f"note: pyproject's [project.urls] Repository is still the placeholder {PLACEHOLDER}: on Colab "
              "the cell installs nothing and says so", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
