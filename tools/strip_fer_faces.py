"""Remove FER2013 faces, and TensorFlow's start-up log lines, from committed notebook outputs.

FER2013 may not be redistributed, so cells that draw real faces (tagged
``fer-faces``) keep their text output but lose their images before a commit;
students see the figures when they run the notebook. TensorFlow's C++ start-up
notices (e.g. "oneDNN custom operations are on", printed on some CPUs whatever
``TF_CPP_MIN_LOG_LEVEL`` says) reach a notebook executed with nbconvert, not one
run by nbval; they are dropped so that the committed outputs match nbval's.

    python tools/strip_fer_faces.py notebooks/*.ipynb
"""
from __future__ import annotations

import argparse
import re

import nbformat

TAG = "fer-faces"
TF_LOG = re.compile(r"^(WARNING: All log messages before absl::InitializeLog\(\).*|[IWEF]\d{4} \d\d:\d\d:[\d.]+ +\d+ [\w.]+:\d+\] .*)\n?",
                    re.M)


def strip(path: str) -> int:
    nb = nbformat.read(path, as_version=4)
    removed = 0
    for cell in nb.cells:
        if cell.cell_type == "code":
            outputs = []
            for out in cell.get("outputs", []):
                if out.get("output_type") == "stream":
                    out["text"] = TF_LOG.sub("", out["text"])
                    if not out["text"]:
                        continue
                outputs.append(out)
            cell["outputs"] = outputs
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
