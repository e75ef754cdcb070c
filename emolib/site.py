"""The demo as a static web site: the shipped networks run in the visitor's browser, nothing leaves the device.

:func:`build` writes a folder that any static file server can serve (``python -m http.server``,
GitHub Pages, a school's web space): ``index.html`` and its JavaScript and CSS (from
``emolib/static/site/``), LiteRT.js (``@litertjs/core``, the runtime that runs the shipped
``.tflite`` files as they are) with its WebAssembly files, copied from ``node_modules/`` (``npm ci``
installs them from the project's ``package.json`` and lockfile), the int8 emotion network
(``emonet_1view.tflite``, the shipped network alone, with its batch fixed at 1 by :func:`fixed_batch`; the page
makes the test-time views around it as :class:`emolib.predict.LiteRTModel` does with ``views``: 6 for photos,
for the webcam the most that fit :data:`emolib.predict.VIEW_BUDGET_MS` per face in that browser), the BlazeFace
detector and the emoji. The page's
settings (class names, the crop and detector constants) are written from emolib's own, so the browser
frames faces exactly as :mod:`emolib.faces` does. No CDN, no server code.

Example
-------
>>> from emolib.site import build
>>> out = build("out/site")                                   # doctest: +SKIP
>>> sorted(p.name for p in out.iterdir())                      # doctest: +SKIP
['config.json', 'emoji', 'index.html', 'lib', 'models', 'pipeline.js', 'site.css', 'site.js', 'wasm']
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from .data import CLASS_NAMES, IMAGE_SIZE

STATIC_DIR = Path(__file__).resolve().parent / "static" / "site"
ASSETS_DIR = Path(__file__).resolve().parent / "assets"
#: The runtime's files, as ``(path under node_modules, path in the site)``. Only the WebAssembly builds the page
#: loads are copied: the default one (browsers with relaxed SIMD) and the compatible one (without); not the
#: threaded (needs cross-origin isolation headers a static host may not send) or JSPI ones.
RUNTIME_FILES = (
    ("@litertjs/core/dist/index.js", "lib/litert-core.js"),
    ("@litertjs/wasm-utils/dist/index.js", "lib/litert-wasm-utils.js"),
    ("@litertjs/core/wasm/litert_wasm_internal.js", "wasm/litert_wasm_internal.js"),
    ("@litertjs/core/wasm/litert_wasm_internal.wasm", "wasm/litert_wasm_internal.wasm"),
    ("@litertjs/core/wasm/litert_wasm_compat_internal.js", "wasm/litert_wasm_compat_internal.js"),
    ("@litertjs/core/wasm/litert_wasm_compat_internal.wasm", "wasm/litert_wasm_compat_internal.wasm"),
)
MODEL_FILES = (
    (ASSETS_DIR / "face_detection" / "face_detection_full_range.tflite", "models/face_detection_full_range.tflite"),
    (ASSETS_DIR / "face_detection" / "LICENSE.txt", "models/LICENSE-face-detection.txt"),
    (ASSETS_DIR / "MODEL_CARD.md", "models/MODEL_CARD.md"),
)


def fixed_batch(src: str | os.PathLike[str], dest: str | os.PathLike[str]) -> int:
    """Copy a ``.tflite`` file with its batch size fixed at its static shape (1): LiteRT.js (2.5) refuses a
    batch of -1 ("dynamic"), which the shipped ``emonet_1view.tflite`` declares. Only the tensors' shape signatures
    change; the operators and weights are the same bytes, so the copy gives the same probabilities
    (``tests/test_site.py`` checks). Returns how many tensors had a dynamic dimension.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     fixed_batch(ASSETS_DIR / "emonet_1view.tflite", Path(tmp) / "emonet_1view.tflite") > 0
    True
    """
    import flatbuffers
    from ai_edge_litert import schema_py_generated as fb

    model = fb.ModelT.InitFromObj(fb.Model.GetRootAsModel(Path(src).read_bytes(), 0))
    changed = 0
    for graph in model.subgraphs:
        for tensor in graph.tensors:
            if tensor.shapeSignature is not None and -1 in list(tensor.shapeSignature):
                tensor.shapeSignature = None        # its static shape (batch 1) is what runs
                changed += 1
    builder = flatbuffers.Builder(1 << 20)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    Path(dest).write_bytes(builder.Output())
    return changed


class SiteError(RuntimeError):
    """The site cannot be built; the message says what to do."""


def find_node_modules(start: str | os.PathLike[str] | None = None) -> Path | None:
    """The nearest ``node_modules`` folder holding LiteRT.js, from ``start`` (default: the current folder)
    up, then next to this package's checkout; None if there is none.

    >>> find_node_modules("/") is None or True
    True
    """
    here = Path(start or Path.cwd()).resolve()
    for folder in [here, *here.parents, Path(__file__).resolve().parent.parent]:
        nm = folder / "node_modules"
        if (nm / "@litertjs" / "core" / "package.json").is_file():
            return nm
    return None


def config() -> dict:
    """The settings the page reads (``config.json``): emolib's own constants, so that the browser
    detects and crops faces as :mod:`emolib.faces` does.

    >>> config()["classes"][3], config()["crop_scale"]
    ('happy', 1.18)
    """
    from . import faces, images, predict

    return {
        "classes": list(CLASS_NAMES), "image_size": IMAGE_SIZE,
        "crop_scale": faces.CROP_SCALE, "crop_shift_y": faces.CROP_SHIFT_Y, "min_face": faces.MIN_FACE,
        "detector": {"file": "models/face_detection_full_range.tflite", "size": faces._MODELS["full"][1],
                     "min_score": 0.5, "iou": 0.3, "full_pass_min": faces.FULL_PASS_MIN,
                     "tile_face_min": faces.TILE_FACE_MIN, "tile_face_max": faces.TILE_FACE_MAX,
                     "tile_min_score": faces.TILE_MIN_SCORE, "close_up": faces.CLOSE_UP},
        "emotion_model": "models/emonet_1view.tflite", "photo_views": 6,
        "views": {n: [[list(s) for s in shifts], mirror] for n, (shifts, mirror) in predict.VIEWS.items()},
        "view_budget_ms": predict.VIEW_BUDGET_MS, "reclassify": 3,   # emolib.widgets.RECLASSIFY (no ipywidgets here)
        "detect_every": predict.DETECT_EVERY,
        "max_side": images.MAX_SIDE, "max_pixels": images.MAX_PIXELS,
    }


def build(out: str | os.PathLike[str], node_modules: str | os.PathLike[str] | None = None) -> Path:
    """Write the static site into ``out`` (created; files already there are replaced) and return its path.

    ``node_modules``: where ``npm ci`` installed LiteRT.js (default: found by :func:`find_node_modules`).
    Raises :class:`SiteError` when it is missing.
    """
    nm = Path(node_modules) if node_modules else find_node_modules()
    if nm is None or not (nm / "@litertjs" / "core" / "package.json").is_file():
        where = f" in {nm}" if nm else ""
        raise SiteError(f"LiteRT.js (@litertjs/core) is not installed{where}: run `npm ci` in the project's "
                        "folder (it installs the runtime from package.json and package-lock.json), then build again")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    copies = [(STATIC_DIR / f.name, f.name) for f in sorted(STATIC_DIR.iterdir()) if f.is_file()]
    copies += [(nm / src, dest) for src, dest in RUNTIME_FILES]
    copies += [(src, dest) for src, dest in MODEL_FILES]
    copies += [(p, f"emoji/{p.name}") for p in sorted((ASSETS_DIR / "emoji").iterdir()) if p.is_file()]
    for src, dest in copies:
        if not src.is_file():
            raise SiteError(f"{src} is missing: run `npm ci` again (runtime files) or restore emolib/assets")
        (out / dest).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, out / dest)
    fixed_batch(ASSETS_DIR / "emonet_1view.tflite", out / "models" / "emonet_1view.tflite")
    (out / "config.json").write_text(json.dumps(config(), indent=1) + "\n")
    return out


def main(args) -> int:
    """``python -m emolib site DIR``."""
    import sys

    try:
        out = build(args.out, args.node_modules)
    except SiteError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"wrote the static site to {out} ({size / 1e6:.1f} MB); serve it with any static file server, e.g. "
          f"`python -m http.server -d {out}`, and open http://localhost:8000/")
    return 0


def add_parser(sub) -> None:
    """The ``site`` subcommand of ``python -m emolib``."""
    s = sub.add_parser("site", help="write the demo as a static web site (runs in the browser; nothing leaves the "
                                    "device): any static file server can serve the folder")
    s.add_argument("out", metavar="DIR", help="the folder to write (e.g. out/site)")
    s.add_argument("--node-modules", default=None, metavar="DIR",
                   help="where `npm ci` installed LiteRT.js (default: the nearest node_modules/)")
    s.set_defaults(func=main)
