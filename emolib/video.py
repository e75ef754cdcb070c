"""Reading and writing video files with OpenCV: frames in, annotated frames out, nothing written half.

This module knows files and frames, not faces: :func:`emolib.predict.predict_video`
runs the face tracker over the frames a :class:`VideoReader` gives. Every
container and codec that OpenCV's FFmpeg reads works (mp4, avi, mov, webm, mkv, ...).
Bad input raises :class:`VideoError` with a message that names the problem: a
missing or empty file, a file that is not a video or is damaged, a codec OpenCV
cannot decode. Outputs are written to a temporary file next to the destination
and renamed into place when complete (:func:`atomic_output`), so an error or
Ctrl+C never leaves half a file behind.

Example
-------
>>> import numpy as np, tempfile, pathlib
>>> clip = pathlib.Path(tempfile.mkdtemp()) / "grey.avi"
>>> with VideoWriter(clip, fps=10, size=(64, 48)) as w:
...     for _ in range(5):
...         w.write(np.full((48, 64, 3), 128, np.uint8))
>>> reader = VideoReader(clip)
>>> reader.info.width, reader.info.height, reader.info.fps, reader.info.frames
(64, 48, 10.0, 5)
>>> [(i, t) for i, t, rgb in reader]
[(0, 0.0), (1, 0.1), (2, 0.2), (3, 0.3), (4, 0.4)]
"""
from __future__ import annotations

import contextlib
import math
import os
import tempfile
from pathlib import Path
from typing import Iterator, NamedTuple

import cv2
import numpy as np

# FFmpeg's own complaints about a damaged stream ("moov atom not found", "invalid len") would
# otherwise reach the terminal or the notebook; our messages say what is wrong instead.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

#: File name endings handled as video by ``python -m emolib predict``.
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".avi", ".webm", ".mkv", ".mpg", ".mpeg", ".wmv")
#: Container frame rate assumed where a file states none.
DEFAULT_FPS = 30.0
#: The codec :class:`VideoWriter` uses for each file name ending (all built into OpenCV's FFmpeg).
WRITER_CODECS = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}


class VideoError(ValueError):
    """The input is not a usable video (or an output cannot be written); the message says why."""


def is_video(path: str | os.PathLike) -> bool:
    """Whether a file name ends like a video (:data:`VIDEO_SUFFIXES`).

    >>> is_video("clip.MP4"), is_video("photo.jpg")
    (True, False)
    """
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


class VideoInfo(NamedTuple):
    """What the container says: frame size, frame rate, frame count (0 if it does not say) and codec."""

    width: int
    height: int
    fps: float
    frames: int
    codec: str

    @property
    def duration_s(self) -> float:
        return self.frames / self.fps


@contextlib.contextmanager
def _native_stderr_to(buf: list[str]):
    """Capture what C++ code writes to file descriptor 2 (OpenCV's log) into ``buf``."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        try:
            os.dup2(tmp.fileno(), 2)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            buf.append(tmp.read().decode("utf-8", "replace"))


def _fourcc(cap: cv2.VideoCapture) -> str:
    code = int(cap.get(cv2.CAP_PROP_FOURCC))
    if code <= 0:
        return "?"
    text = code.to_bytes(4, "little").decode("latin-1")
    return text if text.isprintable() else "?"


class VideoReader:
    """The frames of a video file as RGB uint8 arrays: ``for index, time_s, rgb in VideoReader(path)``.

    Opening checks the file and decodes its first frame, so a bad file fails here,
    with a :class:`VideoError` naming the problem. ``info`` is what the container
    states (:class:`VideoInfo`); after iterating, ``frames_read`` is how many
    frames were decoded and ``stopped_early`` says whether decoding broke off
    before the container's frame count (a damaged or truncated file: the frames
    before the damage are still given). Iterating again starts from the first frame.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        path = Path(path)
        self.path = path
        if not path.exists():
            raise VideoError(f"{path}: file not found")
        if not path.is_file():
            raise VideoError(f"{path}: not a file")
        if path.stat().st_size == 0:
            raise VideoError(f"{path}: empty file (0 bytes)")
        log: list[str] = []
        with _native_stderr_to(log):
            cap = cv2.VideoCapture(str(path))
            opened = cap.isOpened()
        if not opened:
            cap.release()
            if "decoder" in "".join(log).lower():
                raise VideoError(f"{path}: unsupported codec: the video's codec cannot be decoded by OpenCV's "
                                 f"FFmpeg; convert it first, e.g. ffmpeg -i {path.name} -c:v libx264 out.mp4")
            raise VideoError(f"{path}: not a video OpenCV can read (damaged, truncated, or not a video at all)")
        ok, first = cap.read()
        codec = _fourcc(cap)
        if not ok or first is None:
            cap.release()
            raise VideoError(f"{path}: no frame could be decoded (codec {codec!r}): the file is damaged "
                             f"or its codec is not supported by OpenCV's FFmpeg")
        fps = cap.get(cv2.CAP_PROP_FPS)
        fps = float(fps) if math.isfinite(fps) and 0 < fps < 1000 else DEFAULT_FPS
        frames = cap.get(cv2.CAP_PROP_FRAME_COUNT)
        frames = int(frames) if math.isfinite(frames) and frames > 0 else 0
        self.info = VideoInfo(int(first.shape[1]), int(first.shape[0]), fps, frames, codec)
        self._cap, self._first = cap, first
        self.frames_read = 0
        self.stopped_early = False

    def __iter__(self) -> Iterator[tuple[int, float, np.ndarray]]:
        cap = self._cap
        if self._first is None:      # a second pass: from the start again
            cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = cap.read()
        else:
            ok, frame = True, self._first
            self._first = None
        n = 0
        while ok and frame is not None:
            yield n, round(n / self.info.fps, 6), cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            n += 1
            ok, frame = cap.read()
        self.frames_read = n
        expected = self.info.frames
        self.stopped_early = bool(expected) and n < expected - max(2, expected // 50)

    def __len__(self) -> int:
        return self.info.frames

    def close(self) -> None:
        self._cap.release()

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _temp_beside(dest: Path) -> Path:
    """A new empty file in ``dest``'s folder (created if need be), named like a hidden partial ``dest``."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{dest.stem}.", suffix=f".partial{dest.suffix}", dir=dest.parent)
    os.close(fd)
    return Path(name)


@contextlib.contextmanager
def atomic_output(dest: str | os.PathLike) -> Iterator[Path]:
    """A temporary path next to ``dest`` (same ending) to write to; renamed to ``dest`` when the
    block ends without error, deleted otherwise. The destination's folder is created.

    >>> import tempfile, pathlib
    >>> dest = pathlib.Path(tempfile.mkdtemp()) / "out" / "table.csv"
    >>> with atomic_output(dest) as tmp:
    ...     _ = tmp.write_text("a,b\\n")
    >>> dest.read_text(), sorted(p.name for p in dest.parent.iterdir())
    ('a,b\\n', ['table.csv'])
    """
    dest = Path(dest)
    tmp = _temp_beside(dest)
    try:
        yield tmp
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


class VideoWriter:
    """Write RGB uint8 frames of ``size`` = (width, height) to a video file, atomically.

    The codec follows the file name (:data:`WRITER_CODECS`: MPEG-4 Part 2 for .mp4
    and .mov, Motion JPEG for .avi and .mkv). Frames go to a temporary file that
    becomes ``path`` only when the writer is closed without error (use it as a
    context manager); frames of another size are resized.
    """

    def __init__(self, path: str | os.PathLike, fps: float, size: tuple[int, int]) -> None:
        self.path = Path(path)
        codec = WRITER_CODECS.get(self.path.suffix.lower())
        if codec is None:
            raise VideoError(f"{self.path}: cannot write this kind of video; "
                             f"choose one of {sorted(WRITER_CODECS)}")
        self.size = (int(size[0]), int(size[1]))
        self._tmp = _temp_beside(self.path)
        self._writer = cv2.VideoWriter(str(self._tmp), cv2.VideoWriter_fourcc(*codec), float(fps), self.size)
        if not self._writer.isOpened():
            self._tmp.unlink(missing_ok=True)
            raise VideoError(f"{self.path}: OpenCV cannot write {codec} video here")
        self.frames_written = 0

    def write(self, rgb: np.ndarray) -> None:
        """Append one RGB frame."""
        if (rgb.shape[1], rgb.shape[0]) != self.size:
            rgb = cv2.resize(rgb, self.size, interpolation=cv2.INTER_AREA)
        self._writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        self.frames_written += 1

    def close(self, ok: bool = True) -> None:
        """Finish the file (``ok``) and put it in place, or throw it away (``ok=False``)."""
        if self._writer is None:
            return
        self._writer.release()
        self._writer = None
        if ok and self.frames_written:
            os.replace(self._tmp, self.path)
        else:
            self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type, *exc) -> None:
        self.close(ok=exc_type is None)


def pan_zoom_clip(rgb: np.ndarray, dest: str | os.PathLike, *, size: tuple[int, int] = (640, 480),
                  fps: float = 30.0, seconds: float = 3.0, zoom: tuple[float, float] = (1.0, 1.5),
                  centre: tuple[tuple[float, float], tuple[float, float]] = ((0.5, 0.5), (0.5, 0.5))) -> Path:
    """Write a clip of ``size`` = (width, height) that moves a camera over a still photo: a window
    of the clip's shape, the largest that fits the photo at zoom 1, zooms from ``zoom[0]`` to
    ``zoom[1]`` while its centre glides from ``centre[0]`` to ``centre[1]`` (fractions of the
    photo's width and height). Made to try video on without shipping one; returns ``dest``.

    >>> import tempfile, pathlib
    >>> clip = pan_zoom_clip(np.zeros((300, 400, 3), np.uint8), pathlib.Path(tempfile.mkdtemp()) / "c.mp4",
    ...                      size=(160, 120), fps=10, seconds=1)
    >>> VideoReader(clip).info[:4]
    (160, 120, 10.0, 10)
    """
    h, w = rgb.shape[:2]
    out_w, out_h = size
    base = min(w / out_w, h / out_h)          # window = base * size at zoom 1
    n = max(1, round(fps * seconds))
    with VideoWriter(dest, fps, size) as writer:
        for i in range(n):
            a = i / max(n - 1, 1)
            z = zoom[0] + a * (zoom[1] - zoom[0])
            ww, wh = base * out_w / z, base * out_h / z
            cx = (centre[0][0] + a * (centre[1][0] - centre[0][0])) * w
            cy = (centre[0][1] + a * (centre[1][1] - centre[0][1])) * h
            x0 = min(max(cx - ww / 2, 0), w - ww)
            y0 = min(max(cy - wh / 2, 0), h - wh)
            # the window's corners onto the frame's, with sub-pixel precision (smooth motion)
            m = np.array([[out_w / ww, 0, -x0 * out_w / ww], [0, out_h / wh, -y0 * out_h / wh]])
            writer.write(cv2.warpAffine(rgb, m, size, flags=cv2.INTER_AREA if z * out_w < w else cv2.INTER_LINEAR,
                                        borderMode=cv2.BORDER_REPLICATE))
    return Path(dest)
