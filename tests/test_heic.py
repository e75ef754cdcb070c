"""HEIC/HEIF photos (iPhones' and Macs' default) read through pillow-heif wherever a JPEG is read:
``load_photo``, ``python -m emolib predict`` and the demo widget. The tests make their own HEIC files
with pillow-heif, turned by their orientation as phones write them."""
from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from emolib.predict import ImageError, load_photo, predict_image, sample_paths

pillow_heif = pytest.importorskip("pillow_heif", reason="pillow-heif is not installed (pip install pillow-heif)")
HOPPER = [p for p in sample_paths() if p.name == "grace_hopper.jpg"][0]


@pytest.fixture(scope="module")
def heic() -> bytes:
    """grace_hopper.jpg as a phone stores a portrait: pixels turned a quarter, EXIF orientation 6 to stand them up."""
    pillow_heif.register_heif_opener()
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    Image.open(HOPPER).transpose(Image.ROTATE_90).save(buf, "HEIF", quality=80, exif=exif.tobytes())
    return buf.getvalue()


def test_heic_is_read_upright_with_its_face(heic):
    assert heic[4:12] == b"ftypheic"
    photo = load_photo(heic)
    jpeg = load_photo(HOPPER)
    assert photo.size == jpeg.size == (512, 600) and photo.rgb.shape == jpeg.rgb.shape    # upright, as the JPEG
    assert np.abs(photo.rgb.astype(int) - jpeg.rgb).mean() < 8       # the same picture (lossy twice)
    (face,) = predict_image(photo)
    (ref,) = predict_image(jpeg)
    assert max(abs(a - b) for a, b in zip(face.box, ref.box)) <= 6


@pytest.mark.parametrize("cut, message", [
    (0.5, "uploaded data: damaged or truncated HEIC/HEIF image: "),
    (24, "uploaded data: a HEIC/HEIF photo, damaged or truncated (its header cannot be read)"),
])
def test_truncated_heic_gets_a_clear_message(heic, cut, message):
    with pytest.raises(ImageError) as err:
        load_photo(heic[:int(len(heic) * cut) if cut < 1 else cut])
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_a_file_named_heic_that_is_not_one(tmp_path):
    fake = tmp_path / "holiday.heic"
    fake.write_bytes(b"this is a text file, not a photo")
    with pytest.raises(ImageError, match="holiday.heic: not an image"):
        load_photo(fake)


def test_heic_on_the_command_line(heic, tmp_path, capsys):
    from emolib.__main__ import main

    photo = tmp_path / "IMG_0001.HEIC"
    photo.write_bytes(heic)
    assert main(["predict", str(photo), "--json"]) == 0
    (entry,) = json.loads(capsys.readouterr().out)
    assert (entry["width"], entry["height"]) == (512, 600) and len(entry["faces"]) == 1
    bad = tmp_path / "broken.heic"
    bad.write_bytes(heic[:len(heic) // 2])
    assert main(["predict", str(bad)]) == 2
    assert "broken.heic: damaged or truncated HEIC/HEIF image" in capsys.readouterr().err


def test_heic_in_the_demo_widget(heic):
    from emolib.widgets import EmotionDemo

    demo = EmotionDemo()
    demo.process_upload([{"name": "IMG_0001.HEIC", "content": memoryview(heic)},
                         {"name": "cut.heic", "content": memoryview(heic[:30])}])
    status = demo.status.value
    assert "1 image(s), 1 face(s) found" in status and "cut.heic: a HEIC/HEIF photo, damaged or truncated" in status
    assert "IMG_0001.HEIC" in demo.gallery.children[0].children[0].value
