"""Where the notebooks save what they make (figures), on a writable course copy or a read-only one.

A lab often shares one read-only copy of the course. :func:`output_folder` gives the folder a notebook asked
for when it can be written, and otherwise a folder of the user's own (``~/emojimation/<name>``, or
``$EMOLIB_OUTPUT/<name>``), saying so once in the output:

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as course:
...     output_folder(Path(course) / "figures") == Path(course) / "figures"
True
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["PACKAGE", "in_checkout", "not_into_install", "output_folder", "user_folder"]

#: emolib's own folder: a checkout's source, or an install (``site-packages``) that nothing writes into.
PACKAGE = Path(__file__).resolve().parent


def in_checkout(package: Path = PACKAGE) -> bool:
    """Whether emolib runs from a checkout of the course (its source, ``pyproject.toml`` beside it), not an install.

    >>> in_checkout(Path("/usr/lib/python3/site-packages/emolib"))
    False
    """
    return (package.parent / "pyproject.toml").is_file() and (package / "__init__.py").is_file()


def not_into_install(dest: str | os.PathLike, package: Path = PACKAGE) -> Path:
    """``dest``, unless it lies inside an installed emolib (outside a checkout): then a ``ValueError`` that says so.

    >>> not_into_install("runs/out").name
    'out'
    >>> not_into_install("/site-packages/emolib/assets", Path("/site-packages/emolib"))
    Traceback (most recent call last):
    ...
    ValueError: /site-packages/emolib/assets is inside the installed emolib (/site-packages/emolib), which nothing \
writes into: give a folder of your own
    """
    dest = Path(dest)
    if not in_checkout(package) and dest.resolve().is_relative_to(package.resolve()):
        raise ValueError(f"{dest} is inside the installed emolib ({package}), which nothing writes into: give a "
                         f"folder of your own")
    return dest


def user_folder(name: str) -> Path:
    """``$EMOLIB_OUTPUT/<name>`` if that variable is set, else ``~/emojimation/<name>``."""
    root = os.environ.get("EMOLIB_OUTPUT")
    return (Path(root) if root else Path.home() / "emojimation") / name


def _writable(folder: Path) -> bool:
    """Whether files can be created in ``folder`` (made if missing): tried, since permissions alone do not
    tell (a read-only file system, or the root user, for whom every mode bit allows writing)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError:
        return False
    return True


def _shown(path: Path) -> str:
    """The path with the home folder written as ``~`` (outputs name no machine path)."""
    try:
        return str(Path("~") / path.relative_to(Path.home()))
    except ValueError:
        return str(path)


def output_folder(preferred: str | os.PathLike) -> Path:
    """``preferred`` (created if missing) when files can be written there, else :func:`user_folder` of the same
    name, with one printed line that says where the files go instead."""
    preferred = Path(preferred)
    if _writable(preferred):
        return preferred
    fallback = user_folder(preferred.resolve().name)
    if not _writable(fallback):
        fallback = Path(tempfile.mkdtemp(prefix=f"emojimation-{preferred.resolve().name}-"))
    print(f"{preferred} cannot be written here (a read-only copy of the course?): "
          f"files are saved in {_shown(fallback)} instead")
    return fallback
