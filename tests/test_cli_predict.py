"""``python -m emolib predict``: annotated images, JSON, exit code 2 for bad input."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from PIL import Image

from emolib.__main__ import main
from emolib.data import CLASS_NAMES
from emolib.predict import sample_paths


def test_samples_emoji_out(tmp_path, capsys):
    assert main(["predict", "--samples", "--emoji", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for p in sample_paths():
        f = tmp_path / f"{p.stem}_emoji.png"
        assert f.is_file() and Image.open(f).size == Image.open(p).size
        assert p.name in out


def test_json(capsys):
    photo = sample_paths()[0]
    assert main(["predict", str(photo), "--json"]) == 0
    (entry,) = json.loads(capsys.readouterr().out)
    assert entry["file"] == str(photo) and len(entry["faces"]) == 1
    face = entry["faces"][0]
    assert face["label"] in CLASS_NAMES and set(face["probabilities"]) == set(CLASS_NAMES)


def test_no_face_is_success(tmp_path, capsys):
    wall = tmp_path / "wall.png"
    Image.new("RGB", (200, 150), "grey").save(wall)
    assert main(["predict", str(wall)]) == 0
    assert "no face found" in capsys.readouterr().out


def test_bad_inputs_exit_2(tmp_path, capsys):
    text = tmp_path / "notes.jpg"
    text.write_text("not a photo")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    for args, msg in ([str(tmp_path / "missing.jpg")], "file not found"), ([str(text)], "not an image"), \
                     ([str(empty)], "empty file"), ([], "give one or more photos"):
        assert main(["predict", *args]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and msg in err and err.count("\n") == 1


def test_module_entry_point(tmp_path):
    r = subprocess.run([sys.executable, "-m", "emolib", "predict", str(tmp_path / "missing.jpg")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "file not found" in r.stderr


def test_group_photo_every_face_and_panels_on_demand(tmp_path, capsys):
    import numpy as np

    from emolib.predict import GROUP_SAMPLE

    assert main(["predict", str(GROUP_SAMPLE), "--json", "--out", str(tmp_path / "auto")]) == 0
    (entry,) = json.loads(capsys.readouterr().out)
    assert len(entry["faces"]) == 12
    assert main(["predict", str(GROUP_SAMPLE), "--bars", "--out", str(tmp_path / "bars")]) == 0
    assert main(["predict", str(GROUP_SAMPLE), "--no-bars", "--out", str(tmp_path / "none")]) == 0
    auto, bars, none = (np.asarray(Image.open(tmp_path / d / "group_of_12.png")) for d in ("auto", "bars", "none"))
    assert np.array_equal(auto, none) and not np.array_equal(auto, bars)   # 12 faces: no panels unless asked


@pytest.mark.slow
def test_json_boxes_and_size_of_a_large_photo_are_its_own_pixels(tmp_path, capsys):
    """grace_hopper.jpg upscaled 4x (2048x2400, taller than the 2048-px working size): the JSON gives the
    photo's own size and a box 4x the original's; the annotated PNG is the working copy, named as such."""
    photo = [p for p in sample_paths() if p.name == "grace_hopper.jpg"][0]
    small = Image.open(photo)
    big = tmp_path / "big.jpg"
    small.resize((small.width * 4, small.height * 4), Image.BICUBIC).save(big, quality=92)
    assert main(["predict", str(photo), str(big), "--json", "--out", str(tmp_path / "out")]) == 0
    ref, entry = json.loads(capsys.readouterr().out)
    assert (entry["width"], entry["height"]) == (2048, 2400) and len(entry["faces"]) == 1
    for a, b in zip(ref["faces"][0]["box"], entry["faces"][0]["box"]):
        assert abs(4 * a - b) <= 12
    drawn = Image.open(entry["annotated"])
    assert drawn.size == (entry["annotated_width"], entry["annotated_height"]) == (1748, 2048)
    assert abs(entry["annotated_scale"] - 2048 / 2400) < 1e-3 and ref["annotated_scale"] == 1.0
    assert main(["predict", str(big), "--out", str(tmp_path / "out")]) == 0
    assert "(drawn 1748x2048, 0.853 of the photo's 2048x2400" in capsys.readouterr().out


def test_views_option_and_the_views_in_the_json(capsys):
    from emolib.predict import get_fast_model

    before = get_fast_model().views
    photo = sample_paths()[0]
    try:
        assert main(["predict", str(photo), "--json", "--views", "1"]) == 0
        (entry,) = json.loads(capsys.readouterr().out)
        assert entry["views"] == 1 and len(entry["faces"]) == 1
    finally:
        get_fast_model(before)
    with pytest.raises(SystemExit):
        main(["predict", str(photo), "--views", "3"])
    assert "invalid choice: '3'" in capsys.readouterr().err
