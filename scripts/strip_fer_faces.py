"""Remove FER2013 faces from committed notebook outputs.

FER2013 may not be redistributed, so cells that draw real faces (tagged
``fer-faces``) keep their text output but lose their images before a commit;
students see the figures when they run the notebook.

    python scripts/strip_fer_faces.py notebooks/*.ipynb
"""
from __future__ import annotations

import argparse

import nbformat

TAG = "fer-faces"


def strip(path: str) -> int:
    nb = nbformat.read(path, as_version=4)
    removed = 0
    for cell in nb.cells:
        if TAG not in cell.get("metadata", {}).get("tags", []):
            continue
        for out in cell.get("outputs", []):
            for key in [k for k in out.get("data", {}) if k.startswith("image/")]:
                del out["data"][key]
                removed += 1
    nbformat.write(nb, path)
    return removed


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="+", help="notebook files (.ipynb) to strip in place")
    for p in parser.parse_args().notebooks:
        print(f"{p}: {strip(p)} images removed")
