"""Write notebooks/05_emotion_demo.ipynb (without outputs) from the cells below.

Usage::

    python scripts/build_notebook_05.py              # cells only, no outputs
    nice -n 10 python scripts/build_notebook_05.py --execute   # + run it (nbclient), commit-ready

Re-running ``jupyter nbconvert --to notebook --execute --inplace`` on the notebook works too; it
only adds back the (useless when saved) output of the live-widget cell.
"""
from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

OUT = Path(__file__).resolve().parent.parent / "notebooks" / "05_emotion_demo.ipynb"

CELLS: list[tuple[str, str]] = [
    ("md", """# 05 · The emotion demo: from a photo to an emoji

So far the network has only seen FER2013: 48x48 grayscale faces, neatly cut out and centred. A real
photo is different: it is big, in colour, possibly rotated, and the face is somewhere in it (or
nowhere). In this notebook we build the path from any photo, or a webcam, to a labelled face, and we
look at *what* in the face the network uses.

**Learning objectives.** After this notebook you can

1. explain the three steps of the demo (**detect** the faces, **crop** each one the way FER2013 framed
   its faces, **classify** all of them in one batch) and why the crop must match the training data;
2. run `emolib` on your own photos, from Python and from the command line;
3. read a probability chart and a saliency map, and say what they can and cannot tell you;
4. use the live demo widget with an uploaded photo or your webcam, and know why it also works when the
   Python kernel runs on another computer than your browser.

The model used here is the one shipped inside `emolib` (see `emolib/assets/MODEL_CARD.md`). Your own
model from notebooks 03-04 can be passed to every function below as `model=...`."""),
    ("code", """import time

import numpy as np

from emolib import plots
from emolib.data import CLASS_NAMES
from emolib.faces import crop_face, detect_faces
from emolib.predict import (annotate, get_model, load_image, predict_image, sample_paths,
                            saliency_map)

%config InlineBackend.figure_format = "jpeg"  # photos: JPEG keeps the notebook small

model = get_model()  # the shipped model, loaded once
print("input:", model.input_shape, " output:", model.output_shape)
print("classes:", ", ".join(CLASS_NAMES))"""),
    ("md", """## 1. The photos

`emolib` ships two public-domain photographs (credits in `emolib/assets/samples/CREDITS.md`): the
computer scientist Grace Hopper (US Navy photo) and the astronaut Eileen Collins (NASA photo). Neither
comes from FER2013, so for the model they are truly new faces.

`load_image` accepts a file path, the bytes of a file, a PIL image or a numpy array, and always returns
an RGB array. It also turns phone photos upright (their EXIF orientation tag), converts 16-bit or
transparent images, shrinks huge images, and raises a clear `ImageError` for anything that is not a
usable image."""),
    ("code", """photos = {p.name: load_image(p) for p in sample_paths()}
for name, rgb in photos.items():
    print(f"{name}: {rgb.shape[1]}x{rgb.shape[0]} pixels, {rgb.dtype}")"""),
    ("code", """from emolib.predict import ImageError

for bad in [b"", b"this is not a photo"]:
    try:
        load_image(bad)
    except ImageError as err:
        print("ImageError:", err)"""),
    ("md", """## 2. Step one: find the faces

`detect_faces` runs a small, fast face detector (Google's BlazeFace, about 3 ms per photo on one CPU
core; its weights ship inside `emolib`, so nothing is downloaded). It returns one box `(x, y, w, h)`
per face, left to right. A photo without a face simply gives an empty list: that is not an error."""),
    ("code", """boxes = {name: detect_faces(rgb) for name, rgb in photos.items()}
for name, b in boxes.items():
    print(f"{name}: {len(b)} face(s)")
print("a grey wall:", detect_faces(np.full((240, 320, 3), 128, np.uint8)))"""),
    ("md", """## 3. Step two: crop like FER2013

The network learned from faces framed in one particular way: a square around the face, from the
eyebrows' top to the chin, with a little margin, in grayscale, 48x48 pixels. If we cropped more
tightly, or left more background, the faces would look different from everything the network has seen
and its accuracy would drop. `crop_face` cuts a square 1.18 times the detector's box, centred a little
above it. These two numbers were measured, not guessed: `scripts/measure_detector.py` runs the
detector on FER2013's own faces and checks where it puts the box inside the FER2013 frame.

Below: the detector's box (dashed) and the square that is cut out (solid), then the 48x48 crops that
the network receives."""),
    ("code", """plots.face_crops(photos, boxes)  # the square: emolib.faces.face_square; the crop: crop_face"""),
    ("md", """## 4. Step three: classify every face at once

`predict_image` does the three steps. All the faces of a photo go through the network in **one**
batched call (calling the network once per face would cost one call's overhead per face). Each result
holds the box, the most probable class (`label`), its probability (`score`) and all seven
probabilities."""),
    ("code", """results = {name: predict_image(rgb, model) for name, rgb in photos.items()}
for name, res in results.items():
    print(f"{name}: {len(res)} face(s), probabilities sum to "
          f"{[round(sum(r.probabilities.values()), 3) for r in res]}")"""),
    ("code", """# NBVAL_IGNORE_OUTPUT
# (the predictions change whenever the shipped model is retrained)
for name, res in results.items():
    for r in res:
        top3 = sorted(r.probabilities.items(), key=lambda kv: -kv[1])[:3]
        print(f"{name}: {r.label} ({100 * r.score:.0f}%); top 3: "
              + ", ".join(f"{c} {100 * p:.0f}%" for c, p in top3))"""),
    ("md", """`annotate` draws the result: a box in the colour of the predicted class, the label with its
probability, and seven small bars, one per class. With `emoji=True` it pastes the matching emoji over
the face instead (the emoji are drawn by `scripts/make_emoji.py`; no image is downloaded)."""),
    ("code", """annotated = {f"{name}{' (emoji)' if emoji else ''}": annotate(rgb, results[name], emoji=emoji)
             for name, rgb in photos.items() for emoji in (False, True)}
plots.photo_grid(annotated, title="annotate(): label, probability and bars, or the emoji")"""),
    ("md", """### Reading the probabilities

The label is only the largest of seven numbers. A face labelled *neutral* at 35% with *sad* at 30% is
a close call; the chart shows that, the label alone does not. Remember from notebook 04 which classes
the model confuses (fear and sad, for example) before you trust a close call."""),
    ("code", """faces = [(name, r) for name, res in results.items() for r in res]
plots.probability_bars([(name, r.probabilities) for name, r in faces])"""),
    ("md", """## 5. What does the network look at?

A **saliency map** answers: *if I changed this pixel a little, how much would the probability of the
predicted class change?* `saliency_map` computes that gradient for every pixel of the 48x48 face.
A single gradient is noisy, so it averages the gradients of 16 slightly noisy copies of the face
(*SmoothGrad*, one batched call). Bright means "this pixel matters".

A good model should light up the eyes, eyebrows and mouth, the parts that actually change with an
expression; a model that lights up the background, the hair or the image border has learned a
shortcut. Keep in mind that a saliency map shows sensitivity, not reasoning: it tells you *where* the
network is sensitive, not *why*."""),
    ("code", """plots.saliency_panels([(f"{name}: {r.label}", r.face, saliency_map(r.face, model)) for name, r in faces])"""),
    ("md", """## 6. Fast enough for a webcam?

For a live video we need the whole path (detect, crop, classify, draw) in well under 33 ms per frame
(30 frames a second). Let us time it on a 640x480 frame. `scripts/benchmark_frame.py` measures the
same over 200 frames and shows where the time goes.

We time two runtimes for the same network. `model` is the Keras file, run by TensorFlow. When no
model is given, `predict_image` runs the shipped model's **LiteRT** copy instead
(`emolib/assets/emonet.tflite`, written by `emolib.models.export_litert`). It is the same network with
its weights stored as 8-bit integers instead of 32-bit floats (*quantization*): a quarter of the size,
run by a small engine made for one image at a time, without importing TensorFlow at all. Its
probabilities differ from the Keras file's by a few hundredths at most, and its accuracy is the same
(see the model card)."""),
    ("code", """# NBVAL_IGNORE_OUTPUT
# (timings depend on the computer)
rgb = photos["grace_hopper.jpg"]
frame = np.zeros((480, 640, 3), np.uint8)
small = load_image(rgb, max_side=480)  # 410x480
x0 = (640 - small.shape[1]) // 2
frame[:, x0:x0 + small.shape[1]] = small
for name, m in [("Keras file (model=model)", model), ("LiteRT copy (the default)", None)]:
    annotate(frame, predict_image(frame, m))  # warm-up
    times = []
    for _ in range(20):
        t = time.perf_counter()
        annotate(frame, predict_image(frame, m))
        times.append(time.perf_counter() - t)
    print(f"{name}: median {1000 * np.median(times):.1f} ms per 640x480 frame "
          f"({1 / np.median(times):.0f} frames per second possible)")"""),
    ("md", """## 7. The command line

The same pipeline runs without a notebook. In a terminal, from the project folder:

```bash
python -m emolib predict my_photo.jpg --out figures/mine        # annotated copy + one line per face
python -m emolib predict --samples --emoji --out figures/demo   # what `make demo` runs
python -m emolib predict my_photo.jpg --json                    # machine-readable results
```

A missing file or something that is not an image stops it with a one-line message and exit code 2."""),
    ("md", """## 8. The live demo

Run the next cell. You can

* **upload** one or several photos (the button *Photos*): each gets its annotated copy and one
  probability chart per face; a broken or empty file only shows a message in the status line;
* switch **emoji** on and off;
* **start the webcam**: your browser asks for permission, then sends a small JPEG a few times a second
  to Python, which answers with the annotated frame. The *fps* readout shows how many frames a second
  make the round trip. **Snapshot** keeps the current frame below.

Because the camera is read by the browser (with the web standard `getUserMedia`) and not by Python,
this also works when the kernel runs on a remote server, e.g. JupyterHub or a cloud notebook: the
frames travel over the same connection as everything else in the notebook. Nothing is stored."""),
    ("code", """# NBVAL_SKIP
# (interactive: needs a browser and, for the webcam, a camera)
from emolib.widgets import EmotionDemo

EmotionDemo()  # the shipped model's LiteRT copy; EmotionDemo(model=...) takes your own"""),
    ("md", """## Exercises

1. **Your own photo.** Run `predict_image` on a photo of your own (or a group photo). How many faces
   are found? Which are missed (small, turned away, in shadow)? Try `detect_faces(rgb, min_score=0.3)`.
2. **Framing matters.** Crop the sample faces with `crop_face(rgb, box, scale=1.0)` and `scale=1.6`
   instead of the default 1.18 and compare the predicted probabilities. Which classes change most?
   Why does the framing of the training data matter?
3. **Mirror test.** Predict a photo and its mirror image (`rgb[:, ::-1]`). Should the probabilities
   be the same? Are they? (Hint: how was the model trained? See `emolib.models.augmentation`.)
4. **Saliency sanity check.** Compute `saliency_map` for a class that was *not* predicted (e.g.
   `label="surprise"`). Does the map move to other parts of the face?
5. **Your model.** Load the model you trained in notebook 03 with `emolib.models.load_model_file` and
   pass it as `model=` to `predict_image` and `EmotionDemo`. Which one do you trust more on the
   samples, and why is two photos far too few to decide?
6. **Smaller and faster.** Export your model twice with `emolib.models.export_litert(model, path)`
   and `export_litert(model, path, quantize=True)`, load each with `emolib.predict.LiteRTModel(path)`
   and compare the file sizes, the time per face and the validation accuracy
   (`emolib.evaluate.evaluate(lite, emolib.data.load_fer2013().val)`). What does quantization cost,
   and what does it buy?
7. **Ethics.** Emotion recognition from faces is controversial: a face showing an expression is not
   the same as a person feeling an emotion, and FER2013's labels are one annotator's guess. Write
   three sentences on where such a demo would be fine to use and where it would not."""),
]


def build() -> nbformat.NotebookNode:
    nb = new_notebook()
    nb.cells = [new_markdown_cell(src) if kind == "md" else new_code_cell(src) for kind, src in CELLS]
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def execute(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Run every cell in notebooks/, then drop the live widget's saved output and state."""
    from nbclient import NotebookClient

    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(OUT.parent)}}).execute()
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.source.startswith("# NBVAL_SKIP"):
            cell.outputs, cell.execution_count = [], None
    nb.metadata.pop("widgets", None)
    return nb


if __name__ == "__main__":
    import sys

    nb = build()
    if "--execute" in sys.argv[1:]:
        nb = execute(nb)
    nbformat.write(nb, OUT)
    print(f"wrote {OUT}")
