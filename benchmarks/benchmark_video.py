"""Speed of ``emolib.predict.predict_video`` on 640x480, 30 fps clips: frames/s and the real-time factor.

Makes two clips from the shipped public-domain photos with ``emolib.video.pan_zoom_clip``
(no video is shipped): a close-up of one face (grace_hopper.jpg, zooming in, as a
webcam or a phone video of one person) and a camera panning over the 12-face
group photo (several faces in view at once). Each is run with the detector on
every frame or every 2nd, the classifier every frame or every 3rd, writing only
the table or also the annotated video; the median of ``--repeats`` runs is kept.
For each setting it also reports how far it strays from looking at every frame
afresh: the share of that reference's (frame, face) rows matched by a box
(IoU >= 0.5) with the same label, and the mean IoU of the matched boxes.

It also times the classifier with 1, 2 and 6 test-time views per face (what ``--views auto`` chooses
from) next to each one's accuracy from ``emolib/assets/results.json``.

Run it on a quiet machine (about 2 minutes on a fast 2-core one):
``flock /tmp/locks/cpu.lock python benchmarks/benchmark_video.py --write``
writes ``results/video.json`` and ``results/VIDEO.md``, naming the machine.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

#: (detect_every, reclassify, annotated video?) settings, the first being the reference.
SETTINGS = [(1, 1, False), (1, 3, False), (2, 3, False), (3, 3, False), (1, 3, True), (2, 3, True)]


def make_clips(folder: Path, seconds: float) -> dict[str, Path]:
    from emolib.images import GROUP_SAMPLE, load_image, sample_paths
    from emolib.video import pan_zoom_clip

    hopper = load_image([p for p in sample_paths() if p.name == "grace_hopper.jpg"][0])
    group = load_image(GROUP_SAMPLE)
    return {
        "one face (close-up, zooming in)": pan_zoom_clip(
            hopper, folder / "one_face.mp4", seconds=seconds, zoom=(1.0, 1.6), centre=((0.5, 0.45), (0.5, 0.4))),
        "12-face group photo (panning)": pan_zoom_clip(
            group, folder / "group.mp4", seconds=seconds, zoom=(1.6, 1.6), centre=((0.3, 0.3), (0.7, 0.7))),
    }


def agreement(ref, df) -> tuple[float, float]:
    """Share of ``ref``'s (frame, face) rows that ``df`` matches (box IoU >= 0.5) with the same label,
    and the mean IoU of the matched boxes."""
    from emolib.faces import box_iou

    same, ious = 0, []
    by_frame = {f: g for f, g in df.groupby("frame")}
    for frame, g in ref.groupby("frame"):
        other = by_frame.get(frame)
        for r in g.itertuples():
            if other is None:
                continue
            cands = [(box_iou((r.x, r.y, r.width, r.height), (o.x, o.y, o.width, o.height)), o.label)
                     for o in other.itertuples()]
            iou, label = max(cands, default=(0.0, None))
            if iou >= 0.5:
                ious.append(iou)
                same += label == r.label
    return same / max(len(ref), 1), (sum(ious) / len(ious) if ious else 0.0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=6.0, help="length of each clip (default 6 s = 180 frames)")
    ap.add_argument("--repeats", type=int, default=2, help="runs per setting; the median is kept (default 2)")
    ap.add_argument("--views", default="6", choices=["auto", "1", "2", "6"],
                    help="test-time views per face for the clips (default 6, the shipped file's)")
    ap.add_argument("--write", action="store_true", help="write results/video.json and results/VIDEO.md")
    args = ap.parse_args(argv)

    from machine import describe

    from emolib.predict import VIEW_BUDGET_MS, choose_views, get_fast_model, predict_video, view_choices, view_times

    machine = describe()
    # the classifier's time per face with each number of test-time views (what "auto" chooses from)
    ms, accuracy = view_times(), view_choices()
    views_rows = [dict(views=v, ms_per_face=round(ms[v], 2), public_test=accuracy.get(v)) for v in sorted(ms)]
    for r in views_rows:
        print(f"{r['views']} view(s): {r['ms_per_face']:5.2f} ms per face (8 in a batch), "
              f"PublicTest accuracy {100 * r['public_test']:.2f} % (results.json)")
    auto = choose_views()
    print(f"auto chooses {auto} view(s) (budget {VIEW_BUDGET_MS:g} ms per face); the clips run with {args.views}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clips = make_clips(tmp, args.seconds)
        views = get_fast_model(args.views).views
        predict_video(next(iter(clips.values())))             # warm-up: detector and classifier loaded
        for name, clip in clips.items():
            ref = None
            for detect_every, reclassify, annotated in SETTINGS:
                times = []
                for _ in range(args.repeats):
                    t0 = time.perf_counter()
                    df = predict_video(clip, detect_every=detect_every, reclassify=reclassify,
                                       annotated=tmp / "annotated.mp4" if annotated else None)
                    times.append(time.perf_counter() - t0)
                ref = df if ref is None else ref
                same, iou = agreement(ref, df)
                n, fps = df.attrs["frames"], df.attrs["fps"]
                rate = n / statistics.median(times)
                row = dict(clip=name, frames=n, faces_per_frame=round(len(df) / n, 2), detect_every=detect_every,
                           reclassify=reclassify, annotated_video=annotated, frames_per_s=round(rate, 1),
                           real_time_factor=round(rate / fps, 2), same_label=round(same, 3),
                           box_iou=round(iou, 3))
                rows.append(row)
                print(f"{name:34s} detect 1/{detect_every} classify 1/{reclassify} "
                      f"{'+ video' if annotated else '       '}  {rate:6.1f} frames/s = {rate / fps:4.2f}x real time"
                      f"  (faces/frame {row['faces_per_frame']}, same label {100 * same:.1f} %, box IoU {iou:.3f})",
                      flush=True)
    print(f"machine: {machine['machine']}")
    if args.write:
        out = HERE / "results"
        out.mkdir(exist_ok=True)
        stamp = time.strftime("%Y-%m-%d")
        (out / "video.json").write_text(json.dumps(dict(
            machine=machine, date=stamp, seconds=args.seconds, repeats=args.repeats, views=views, rows=rows,
            views_per_face=views_rows, auto_views=auto, view_budget_ms=VIEW_BUDGET_MS), indent=1) + "\n")
        lines = [f"# Video: frames per second of predict_video on 640x480, 30 fps clips",
                 "",
                 f"Measured {stamp} on {machine['machine']} by `benchmarks/benchmark_video.py` "
                 f"({args.seconds:g} s clips, median of {args.repeats} runs; the real-time factor is frames/s "
                 f"over the clip's 30 frames/s). *same label* and *box IoU* compare each setting with the first "
                 f"(every frame detected and classified afresh). Each face gets {views} test-time views.",
                 "",
                 "| clip | faces/frame | detect every | classify every | annotated video | frames/s | x real time "
                 "| same label | box IoU |",
                 "|---|---:|---:|---:|---|---:|---:|---:|---:|"]
        for r in rows:
            lines.append(f"| {r['clip']} | {r['faces_per_frame']} | {r['detect_every']} | {r['reclassify']} | "
                         f"{'yes' if r['annotated_video'] else 'no'} | {r['frames_per_s']} | "
                         f"{r['real_time_factor']} | {100 * r['same_label']:.1f} % | {r['box_iou']:.3f} |")
        lines += ["", "## Test-time views that fit the machine", "",
                  f"The classifier's time per face (8 faces in one batch, fastest of 5 runs: what "
                  f"`emolib.predict.choose_views` times when the model loads) and the shipped network's PublicTest "
                  f"accuracy with each (`emolib/assets/results.json`). With a budget of {VIEW_BUDGET_MS:g} ms per "
                  f"face, `--views auto` chose {auto} here.", "",
                  "| views | ms per face | PublicTest accuracy |", "|---:|---:|---:|"]
        lines += [f"| {r['views']} | {r['ms_per_face']:.2f} | {100 * r['public_test']:.2f} % |" for r in views_rows]
        (out / "VIDEO.md").write_text("\n".join(lines) + "\n")
        print(f"wrote {out / 'video.json'} and {out / 'VIDEO.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
