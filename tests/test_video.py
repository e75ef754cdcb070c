"""Video files: reading and writing safely (emolib.video), tracked faces per frame (emolib.predict.predict_video),
the timeline plot, ``python -m emolib predict CLIP --csv --out`` and every kind of bad video."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from emolib.__main__ import main
from emolib.data import CLASS_NAMES
from emolib.faces import Detection
from emolib.predict import FaceTracker, load_image, predict_video, sample_paths
from emolib.video import VideoError, VideoReader, VideoWriter, atomic_output, pan_zoom_clip

HOPPER = [p for p in sample_paths() if p.name == "grace_hopper.jpg"][0]


def _grey_clip(path: Path, frames: int = 12, size=(160, 120), codec_fps=10) -> Path:
    """A clip of flat grey frames (no face), written with the codec its name implies."""
    with VideoWriter(path, codec_fps, size) as w:
        for i in range(frames):
            w.write(np.full((size[1], size[0], 3), 40 + (7 * i) % 200, np.uint8))
    return path


@pytest.fixture(scope="module")
def face_clip(tmp_path_factory) -> Path:
    """1.5 s at 20 frames/s, 320x240: a camera zooming in on grace_hopper.jpg."""
    return pan_zoom_clip(load_image(HOPPER), tmp_path_factory.mktemp("clip") / "hopper.mp4", size=(320, 240),
                         fps=20, seconds=1.5, zoom=(1.0, 1.4), centre=((0.5, 0.45), (0.5, 0.4)))


def _no_partial_files(folder: Path) -> bool:
    return not [p for p in folder.rglob("*") if ".partial" in p.name]


# ------------------------------------------------------------------------- reading and writing
def test_reader_gives_every_frame_with_its_time_and_can_start_again(tmp_path):
    clip = _grey_clip(tmp_path / "grey.avi")
    reader = VideoReader(clip)
    assert reader.info[:4] == (160, 120, 10.0, 12) and reader.info.codec == "MJPG"
    first = [(i, t, int(rgb[0, 0, 0])) for i, t, rgb in reader]
    assert [i for i, _, _ in first] == list(range(12)) and first[3][1] == pytest.approx(0.3)
    assert reader.frames_read == 12 and not reader.stopped_early
    assert [int(rgb[0, 0, 0]) for _, _, rgb in reader] == [v for _, _, v in first]   # a second pass starts over


def test_writer_and_atomic_output_leave_nothing_when_interrupted(tmp_path):
    with pytest.raises(RuntimeError):
        with VideoWriter(tmp_path / "out.mp4", 10, (64, 48)) as w:
            w.write(np.zeros((48, 64, 3), np.uint8))
            raise RuntimeError("stopped")
    with pytest.raises(RuntimeError):
        with atomic_output(tmp_path / "t.csv") as tmp:
            tmp.write_text("frame\n0\n")
            raise RuntimeError("stopped")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(VideoError, match="cannot write this kind of video"):
        VideoWriter(tmp_path / "out.gif", 10, (64, 48))


def _bad_videos(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """Each kind of bad video and the words its message must contain."""
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "notes.mp4").write_text("not a video at all")
    (tmp_path / "noise.avi").write_bytes(np.random.default_rng(0).integers(0, 256, 5000, np.uint8).tobytes())
    ok = _grey_clip(tmp_path / "ok.mp4").read_bytes()
    (tmp_path / "cut.mp4").write_bytes(ok[: len(ok) // 2])       # an mp4 cut short loses its index
    avi = _grey_clip(tmp_path / "ok.avi").read_bytes()
    (tmp_path / "codec.avi").write_bytes(avi.replace(b"MJPG", b"ZZZZ"))   # a codec FFmpeg does not know
    (tmp_path / "folder.mp4").mkdir()
    return {
        "missing": (tmp_path / "missing.mp4", "file not found"),
        "empty": (tmp_path / "empty.mp4", "empty file (0 bytes)"),
        "text": (tmp_path / "notes.mp4", "not a video OpenCV can read"),
        "noise": (tmp_path / "noise.avi", "not a video OpenCV can read"),
        "truncated": (tmp_path / "cut.mp4", "not a video OpenCV can read (damaged, truncated"),
        "codec": (tmp_path / "codec.avi", "unsupported codec"),
        "folder": (tmp_path / "folder.mp4", "not a file"),
    }


def test_bad_videos_get_a_clear_message(tmp_path):
    for kind, (path, words) in _bad_videos(tmp_path).items():
        with pytest.raises(VideoError) as err:
            predict_video(path)
        assert str(err.value).startswith(str(path)) and words in str(err.value), (kind, str(err.value))


def test_cli_bad_videos_exit_2_and_write_nothing(tmp_path, capsys):
    out, folder = tmp_path / "out", tmp_path / "in"
    folder.mkdir()
    for kind, (path, words) in _bad_videos(folder).items():
        assert main(["predict", str(path), "--csv", str(out / "t.csv"), "--out", str(out)]) == 2, kind
        captured = capsys.readouterr()
        assert captured.err.startswith("error: ") and words in captured.err and captured.err.count("\n") == 1, kind
    assert not out.exists()
    clip = _grey_clip(tmp_path / "a.mp4")
    assert main(["predict", str(clip), str(clip), "--csv", str(out / "t.csv")]) == 2
    assert "give exactly one video" in capsys.readouterr().err


def test_damaged_middle_keeps_the_frames_before_and_warns(tmp_path):
    avi = _grey_clip(tmp_path / "ok.avi", frames=30).read_bytes()
    (tmp_path / "half.avi").write_bytes(avi[: len(avi) // 2])
    with pytest.warns(UserWarning, match="decoding stopped after .* of 30 frames"):
        df = predict_video(tmp_path / "half.avi")
    assert df.attrs["stopped_early"] and 0 < df.attrs["frames"] < 30


def test_a_clip_without_faces_is_an_empty_table_with_the_columns(tmp_path, capsys):
    clip = _grey_clip(tmp_path / "grey.mp4")
    df = predict_video(clip)
    assert df.empty and list(df.columns[:4]) == ["frame", "time_s", "face", "label"]
    assert set(CLASS_NAMES) <= set(df.columns) and df.attrs["frames"] == 12
    assert main(["predict", str(clip), "--csv", str(tmp_path / "t.csv")]) == 0
    assert "no face found in any frame" in capsys.readouterr().out
    assert list(pd.read_csv(tmp_path / "t.csv").columns[:4]) == ["frame", "time_s", "face", "label"]


# ------------------------------------------------------------------------- tracking
def _det(x, y, side=60, score=0.9):
    return Detection((x, y, side, side), score, np.zeros((6, 2), np.float32))


def test_tracker_keeps_numbers_reclassifies_every_n_frames_and_forgets_lost_faces(monkeypatch):
    import emolib.predict as P

    calls = []
    real = P.classify_detections
    monkeypatch.setattr(P, "classify_detections", lambda rgb, dets, model=None: calls.append(len(dets))
                        or real(rgb, dets, model))
    frame = np.full((240, 320, 3), 128, np.uint8)
    t = FaceTracker(reclassify=3, max_missing=2)
    ids = [[r.face_id for r in t.update(frame, [_det(20 + 4 * i, 40), _det(200 - 4 * i, 40)])] for i in range(4)]
    assert ids == [[1, 2]] * 4 and calls == [2, 0, 0, 2]          # both classified in one call, every 3rd frame
    assert t.update(frame, [_det(40, 40), _det(60, 160)])[1].face_id == 3    # a new face, a new number
    for _ in range(3):                                                # face 2 missed 3 times: forgotten
        t.update(frame, [_det(40, 40)])
    assert [r.face_id for r in t.update(frame, [_det(40, 40), _det(184, 40)])] == [1, 4]
    # a face that moved fast (IoU below 0.3, centres a third of a side apart) keeps its number
    assert t.update(frame, [_det(60, 40), _det(184, 40)])[0].face_id == 1


def test_tracker_coasts_between_detections_at_the_last_speed():
    frame = np.full((240, 320, 3), 128, np.uint8)
    t = FaceTracker()
    t.update(frame, [_det(20, 40)])
    t.update(frame, [_det(30, 44)])
    assert [r.box for r in t.coast()] == [(40, 48, 60, 60)]
    assert [r.box for r in t.coast()] == [(50, 52, 60, 60)]
    r = t.update(frame, [_det(60, 56)])[0]
    assert r.face_id == 1 and r.box == (60, 56, 60, 60)
    with pytest.raises(ValueError, match="at least 1"):
        FaceTracker(reclassify=0)


# ------------------------------------------------------------------------- predict_video
def test_predict_video_one_row_per_frame_and_face(face_clip):
    df = predict_video(face_clip)
    assert df.attrs["frames"] == 30 and df.attrs["fps"] == 20.0 and (df.attrs["width"], df.attrs["height"]) == (320, 240)
    assert list(df.columns[:4]) == ["frame", "time_s", "face", "label"]
    assert list(df.columns[4:11]) == list(CLASS_NAMES)
    assert df["frame"].tolist() == list(range(30)) and set(df["face"]) == {1}       # one face, one number
    assert np.allclose(df["time_s"], df["frame"] / 20)
    assert np.allclose(df[list(CLASS_NAMES)].sum(axis=1), 1, atol=1e-3)
    assert (df["label"] == df[list(CLASS_NAMES)].idxmax(axis=1)).all()
    x, w = df["x"].to_numpy(), df["width"].to_numpy()
    assert (w[-1] > 1.2 * w[0]) and (x + w <= 320).all()           # zooming in: the face grows


def test_emotion_timeline_one_panel_per_face_titled_and_labelled():
    from emolib.plots import emotion_timeline

    t = np.arange(10) / 10
    rows = [dict(time_s=s, face=f, **{c: (0.7 if c == "happy" else 0.05) for c in CLASS_NAMES})
            for f in (1, 2) for s in t if not (f == 2 and 0.3 < s < 0.9)]
    df = pd.DataFrame(rows)
    df.attrs.update(source="/x/clip.mp4", fps=10.0)
    fig = emotion_timeline(df)
    assert fig.get_suptitle() == "Emotion over time: clip.mp4"
    assert [ax.get_title() for ax in fig.axes] == ["face #1", "face #2"]
    assert all(ax.get_xlabel() == "time (s)" for ax in fig.axes[-1:]) and fig.axes[0].get_ylabel() == "probability"
    assert [line.get_label() for line in fig.axes[0].get_lines()] == list(CLASS_NAMES)
    assert np.isnan(fig.axes[1].get_lines()[0].get_xdata()).any()         # face 2 out of view: a break


def test_cli_predict_on_a_video_with_csv_and_out(face_clip, tmp_path, capsys):
    out, csv = tmp_path / "out", tmp_path / "table.csv"
    assert main(["predict", str(face_clip), "--csv", str(csv), "--out", str(out), "--json"]) == 0
    (entry,) = json.loads(capsys.readouterr().out)
    assert entry["frames"] == 30 and entry["fps"] == 20 and [f["id"] for f in entry["faces"]] == [1]
    df = pd.read_csv(csv)
    assert list(df.columns) == ["frame", "time_s", "face", "label", *CLASS_NAMES,
                                "x", "y", "width", "height", "detection_score"]
    assert len(df) == 30 and df["label"].isin(CLASS_NAMES).all()
    annotated = VideoReader(entry["annotated"])
    assert annotated.info[:2] == (320, 240) and sum(1 for _ in annotated) == 30
    assert [Path(p).name for p in entry["plots"]] == ["hopper_face1.png"]
    assert Image.open(entry["plots"][0]).size[0] > 400
    assert _no_partial_files(tmp_path)
    assert main(["predict", str(face_clip)]) == 0
    text = capsys.readouterr()
    assert "30 frames (1.5 s at 20 frames/s), 1 face(s)" in text.out and "face #1:" in text.out
    assert "frame/s" in text.err                                     # the progress bar


def test_video_wider_than_the_working_size_boxes_in_its_own_pixels(tmp_path):
    """A 2400x1800 clip is searched at 2048x1536; the table's boxes are in the clip's own pixels."""
    clip = pan_zoom_clip(load_image(HOPPER), tmp_path / "big.avi", size=(2400, 1800), fps=10, seconds=0.3,
                         zoom=(1.0, 1.0))
    small = pan_zoom_clip(load_image(HOPPER), tmp_path / "small.avi", size=(800, 600), fps=10, seconds=0.3,
                          zoom=(1.0, 1.0))
    big_df, small_df = predict_video(clip, annotated=tmp_path / "a.avi"), predict_video(small)
    assert len(big_df) == len(small_df) == 3
    for c in ("x", "y", "width", "height"):
        assert np.allclose(big_df[c], 3 * small_df[c], atol=8), c
    assert VideoReader(tmp_path / "a.avi").info[:2] == (2048, 1536)


def test_predict_video_error_midway_writes_no_video(face_clip, tmp_path, monkeypatch):
    import emolib.predict as P

    def broken(self, rgb, dets=None):
        raise RuntimeError("classifier failed")

    monkeypatch.setattr(P.FaceTracker, "update", broken)
    with pytest.raises(RuntimeError):
        predict_video(face_clip, annotated=tmp_path / "a.mp4")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("suffix,codec", [(".mp4", "mp4v"), (".avi", "MJPG"), (".mov", "mp4v"), (".webm", "VP80"),
                                          (".mkv", "MJPG")])
def test_the_containers_opencv_reads(tmp_path, suffix, codec):
    """mp4, avi, mov, webm and mkv clips (written here with OpenCV's own FFmpeg) are read frame by frame."""
    import cv2

    path = tmp_path / f"clip{suffix}"
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), 15, (96, 64))
    assert w.isOpened()
    for i in range(8):
        w.write(np.full((64, 96, 3), 30 * i, np.uint8))
    w.release()
    reader = VideoReader(path)
    assert reader.info.width == 96 and reader.info.height == 64 and reader.info.fps == 15
    assert sum(1 for _ in reader) == 8
    assert predict_video(path).attrs["frames"] == 8
