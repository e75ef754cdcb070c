"""Command line: ``python -m emolib train|predict|app|download|ship|site ...`` (see ``--help``)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import ship, site
from .settings import add_options
from .views import add_views_option


def _train(args: argparse.Namespace) -> int:
    from .train import set_threads

    set_threads(args.threads)
    from .data import load_fer2013
    from .settings import config_from_options
    from .train import RECIPES, TrainConfig, train

    # a ValueError (a bad setting, named by its option; FER2013 missing; --init from another width) is main's
    # "error: ..." and exit code 2. Every setting is checked before the data is read.
    config = config_from_options(args, RECIPES.get(args.recipe), TrainConfig)
    result = train(data=load_fer2013(args.data), out_dir=args.out, config=config,
                   verbose=2 if args.log_epochs else "auto")
    print(f"best val (PublicTest) accuracy {result.best_val_accuracy:.4f} at epoch {result.best_epoch}; "
          f"model: {result.model_path}; {result.wall_time_s:.0f} s")
    return 0


def _predict(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from .draw import annotate
    from .images import ImageError, load_photo, sample_paths
    from .predict import get_fast_model, predict_image

    from .video import VideoError, VideoReader, is_video

    paths = [Path(p) for p in args.photos] + (sample_paths() if args.samples else [])
    if not paths:
        print("error: give one or more photos or videos, or --samples", file=sys.stderr)
        return 2
    videos = [p for p in paths if is_video(p)]
    if args.csv and len(videos) != 1:
        print(f"error: --csv writes one video's table: give exactly one video, not {len(videos)}", file=sys.stderr)
        return 2
    for p in videos:  # open every video first: a bad file fails fast, before the model loads
        try:
            VideoReader(p).close()
        except VideoError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
    paths = [p for p in paths if not is_video(p)]
    images = {}
    for p in paths:  # read everything first: a bad file fails fast, before the model loads
        try:
            images[p] = load_photo(p)
        except ImageError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
    out = Path(args.out) if args.out else None
    if out:
        out.mkdir(parents=True, exist_ok=True)
    views = get_fast_model(args.views).views      # None: $EMOLIB_VIEWS, else timed on this machine
    report = []
    for p, photo in images.items():
        results = predict_image(photo)     # boxes in the photo's own pixels, however large
        (w, h), scale = photo.size, photo.scale
        entry = {"file": str(p), "width": w, "height": h, "views": views, "faces": [r.to_dict() for r in results]}
        if out:
            from PIL import Image

            dest = out / f"{p.stem}{'_emoji' if args.emoji else ''}.png"
            drawn = annotate(photo, results, emoji=args.emoji, bars=args.bars)   # on the working copy
            Image.fromarray(drawn).save(dest)
            entry.update(annotated=str(dest), annotated_width=int(drawn.shape[1]),
                         annotated_height=int(drawn.shape[0]), annotated_scale=round(scale, 4))
        report.append(entry)
        if not args.json:
            faces = ", ".join(f"{r.label} {100 * r.score:.0f}% at {list(r.box)}" for r in results) or "no face found"
            drawn_at = (f" (drawn {entry['annotated_width']}x{entry['annotated_height']}, {scale:.3g} of "
                        f"the photo's {w}x{h}; boxes above in the photo's pixels)") if out and scale != 1 else ""
            print(f"{p}: {faces}" + (f" -> {entry['annotated']}{drawn_at}" if out else ""))
    for p in videos:
        try:
            report.append(dict(_predict_video(p, args, out), views=views))
        except VideoError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
    if args.json:
        print(json.dumps(report, indent=2))
    return 0


def _predict_video(path: Path, args: argparse.Namespace, out: Path | None) -> dict:
    """One video: the table (--csv), the annotated clip and a timeline per face (--out), a summary."""
    import warnings

    from .plots import emotion_timeline
    from .predict import predict_video
    from .video import atomic_output

    annotated = out / f"{path.stem}_annotated.mp4" if out else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        df = predict_video(path, annotated=annotated, emoji=args.emoji, progress=True)
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    a = df.attrs
    entry = {"file": str(path), "width": a["width"], "height": a["height"], "fps": round(a["fps"], 3),
             "frames": a["frames"], "duration_s": round(a["frames"] / a["fps"], 3), "faces": []}
    for face, rows in df.groupby("face"):
        labels = rows["label"].value_counts()
        entry["faces"].append({"id": int(face), "frames": len(rows), "first_s": round(float(rows["time_s"].min()), 3),
                               "last_s": round(float(rows["time_s"].max()), 3), "label": labels.index[0],
                               "label_share": round(float(labels.iloc[0] / len(rows)), 3)})
    if args.csv:
        with atomic_output(args.csv) as tmp:
            df.to_csv(tmp, index=False, float_format="%.4f")
        entry["csv"] = str(args.csv)
    if out:
        entry["annotated"] = str(annotated)
        entry["plots"] = []
        for f in entry["faces"]:
            dest = out / f"{path.stem}_face{f['id']}.png"
            with atomic_output(dest) as tmp:
                emotion_timeline(df, [f["id"]], title=f"Emotion over time: {path.name}, face #{f['id']}").savefig(
                    tmp, dpi=110, bbox_inches="tight")
            entry["plots"].append(str(dest))
    if not args.json:
        print(f"{path}: {entry['frames']} frames ({entry['duration_s']:.1f} s at {entry['fps']:g} frames/s), "
              + (f"{len(entry['faces'])} face(s)" if entry["faces"] else
                 "no face found in any frame (try a brighter clip with frontal faces)"))
        for f in entry["faces"]:
            print(f"  face #{f['id']}: {f['label']} in {100 * f['label_share']:.0f} % of its {f['frames']} frames "
                  f"({f['first_s']:.1f}-{f['last_s']:.1f} s)")
        for x in [entry.get("csv"), entry.get("annotated"), *entry.get("plots", [])]:
            if x:
                print(f"  -> {x}")
    return entry


def _app(args: argparse.Namespace) -> int:
    """Serve the demo (emolib/assets/app.ipynb) as a web page without code, with Voila (emolib/app.py)."""
    from .app import serve

    return serve(args)


def _download(args: argparse.Namespace) -> int:
    """Fetch FER2013 from Kaggle into data/fer2013 (or --to) and check it; --check only checks."""
    from .download import DownloadError, check_fer2013, default_destination, download_fer2013, summary

    dest = Path(args.to).expanduser() if args.to else default_destination()
    if args.check:
        problems = check_fer2013(dest)
        for line in problems:
            print(f"error: {line}", file=sys.stderr)
        if not problems:
            print(f"FER2013 is complete: {summary(dest)}")
        return 1 if problems else 0
    try:
        download_fer2013(dest, force=args.force)
    except DownloadError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m emolib", description="Emojimation tools")
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train a model on FER2013 (selects on PublicTest)")
    t.add_argument("--recipe", choices=["class", "full", "seed"], default=None,
                   help="start from a named recipe (emolib.train.RECIPES): class, the 15-epoch class-time recipe of "
                        "notebook 03; full, the shipped network's; seed, the seed CNN's. Options given too change it")
    add_options(t)  # one option per TrainConfig field (emolib.settings), and emonet's own
    t.add_argument("--threads", type=int, default=None, help="TensorFlow intra-op threads")
    t.add_argument("--data", default=None, help="FER2013 location (default: $EMOLIB_DATA or data/fer2013)")
    t.add_argument("--out", required=True, help="run folder: checkpoints, history, best.keras")
    t.add_argument("--log-epochs", action="store_true", help="one line per epoch instead of a progress bar")
    t.set_defaults(func=_train)
    p = sub.add_parser("predict", help="find faces in photos or videos and name their emotions")
    p.add_argument("photos", nargs="*", metavar="FILE",
                   help="image files (JPEG, PNG, HEIC, ...) or video files (mp4, mov, avi, webm, mkv: what OpenCV reads)")
    p.add_argument("--samples", action="store_true", help="also run on the sample photos shipped with emolib")
    p.add_argument("--emoji", action="store_true", help="paste an emoji over each face in the annotated images")
    p.add_argument("--out", default=None, help="folder for the annotated images (PNG); for a video, the annotated "
                                                "clip (NAME_annotated.mp4) and an emotion-over-time plot per face "
                                                "(NAME_faceN.png)")
    p.add_argument("--csv", default=None, metavar="FILE",
                   help="one video: write a table with a row per frame and face (frame, time_s, face, label, "
                        "a probability per emotion, the box)")
    p.add_argument("--bars", action=argparse.BooleanOptionalAction, default=None,
                   help="draw each face's probability panel (default: only in photos of up to 3 faces)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    add_views_option(p, "per face", "when the model loads")
    p.set_defaults(func=_predict)
    a = sub.add_parser("app", help="serve the demo as a web page without code (Voila): upload photos or use the webcam")
    from .app import parser as app_options

    app_options(a).set_defaults(func=_app)
    d = sub.add_parser("download", help="download FER2013 from Kaggle (msambare/fer2013; needs your Kaggle token) "
                                         "into data/fer2013 and check it")
    d.add_argument("--to", default=None, help="destination folder (default: $EMOLIB_DATA, else data/fer2013)")
    d.add_argument("--force", action="store_true", help="download again and replace what is there")
    d.add_argument("--check", action="store_true", help="only count the images already there against FER2013's")
    d.set_defaults(func=_download)
    ship.add_parser(sub)
    site.add_parser(sub)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
