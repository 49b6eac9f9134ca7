"""The camera's finish (generator/photo.py): sharpening, sensor noise and JPEG, drawn per scene."""

import io

import numpy as np
import pytest
from PIL import Image, ImageFilter

from facegen.generator import photo
from facegen.generator.config import load_scene_config
from facegen.generator.distributions import ConfigError
from facegen.generator.samplers import sample_scene
from facegen.generator.scene import NO_PHOTO, PhotoParams


@pytest.fixture(scope="module")
def picture():
    """A soft 128 px test picture: a blurred dark disc and a bright bar on grey."""
    y, x = np.mgrid[:128, :128]
    img = np.full((128, 128), 110.0)
    img = np.where((x - 40) ** 2 + (y - 50) ** 2 < 15 ** 2, 30.0, img)
    img = np.where((np.abs(y - 95) < 4) & (np.abs(x - 80) < 30), 220.0, img)
    rgb = np.clip(np.stack([img, 0.8 * img, 0.6 * img], -1), 0, 255).astype(np.uint8)
    return np.asarray(Image.fromarray(rgb).filter(ImageFilter.GaussianBlur(1.0)))


def gradient_energy(rgb):
    g = rgb.astype(np.float64).mean(-1)
    return np.mean(np.diff(g, axis=0) ** 2) + np.mean(np.diff(g, axis=1) ** 2)


def test_nothing_to_do_returns_the_picture(picture):
    assert photo.finish(picture, NO_PHOTO) is picture


def test_sharpening_adds_edge_contrast_and_keeps_flat_areas(picture):
    out = photo.finish(picture, PhotoParams(0.0, 1.0, 1.5, 0.0, 0, 0))
    assert out.dtype == np.uint8 and out.shape == picture.shape
    assert gradient_energy(out) > 1.15 * gradient_energy(picture)
    stronger = photo.finish(picture, PhotoParams(0.0, 2.0, 1.5, 0.0, 0, 0))
    assert gradient_energy(stronger) > gradient_energy(out)
    # the mean brightness stays (an unsharp mask adds detail, not light)
    assert abs(out.astype(float).mean() - picture.astype(float).mean()) < 1.0
    # the radius is given at 256 px: the same picture at twice the size gets twice the radius
    big = np.asarray(Image.fromarray(picture).resize((256, 256), Image.BICUBIC))
    want = np.asarray(Image.fromarray(big).filter(ImageFilter.UnsharpMask(radius=1.5, percent=100, threshold=2)))
    np.testing.assert_array_equal(photo.finish(big, PhotoParams(0.0, 1.0, 1.5, 0.0, 0, 0)), want)


def test_noise_has_its_std_and_follows_its_seed(picture):
    flat = np.full((128, 128, 3), 128, np.uint8)
    out = photo.finish(flat, PhotoParams(0.0, 0.0, 1.0, 0.01, 0, 5))
    assert abs(out.astype(float).std() - 2.55) < 0.1 and abs(out.astype(float).mean() - 128) < 0.1
    np.testing.assert_array_equal(out, photo.finish(flat, PhotoParams(0.0, 0.0, 1.0, 0.01, 0, 5)))
    assert not np.array_equal(out, photo.finish(flat, PhotoParams(0.0, 0.0, 1.0, 0.01, 0, 6)))


def test_jpeg_is_what_pillow_decodes_at_that_quality(picture):
    out = photo.finish(picture, PhotoParams(0.0, 0.0, 1.0, 0.0, 40, 0))
    buf = io.BytesIO()
    Image.fromarray(picture).save(buf, "JPEG", quality=40)
    np.testing.assert_array_equal(out, np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB")))
    assert 0 < np.abs(out.astype(int) - picture).mean() < 5


def test_default_draws_and_section_independence(tmp_path):
    cfg = load_scene_config()
    scenes = [sample_scene(cfg, 3, i) for i in range(400)]
    sharpen = np.array([s.photo.sharpen for s in scenes])
    assert 0.5 <= sharpen.min() and sharpen.max() <= 1.5
    jpeg = np.mean([s.photo.jpeg_quality > 0 for s in scenes])
    assert 0.22 < jpeg < 0.38  # jpeg_probability 0.3
    assert all(70 <= s.photo.jpeg_quality <= 95 for s in scenes if s.photo.jpeg_quality)
    assert max(s.photo.noise for s in scenes) <= 0.012
    assert all(0.6 <= s.photo.metering <= 1.0 for s in scenes)
    # switching the finish off changes no other section's draws
    path = tmp_path / "off.yaml"
    path.write_text("photo:\n  sharpen: 0\n  noise: 0\n  jpeg_probability: 0\n")
    off = load_scene_config(path)
    for i in range(20):
        a, b = sample_scene(cfg, 3, i), sample_scene(off, 3, i)
        assert b.photo.sharpen == 0 and b.photo.noise == 0 and b.photo.jpeg_quality == 0
        assert a.to_dict() | {"photo": None} == b.to_dict() | {"photo": None}


def test_out_of_range_quality_is_refused(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("photo:\n  jpeg_quality: [5, 90]\n")
    with pytest.raises(ConfigError, match="photo.jpeg_quality"):
        load_scene_config(path)


def test_face_value_and_target():
    face = np.zeros((32, 32), bool)
    face[8:24, 8:24] = True
    picture = np.full((32, 32, 3), 255, np.uint8)
    picture[face] = 102  # only the face's pixels count
    assert photo.face_value(picture, face) == pytest.approx(0.4)
    assert photo.face_value(picture, np.zeros_like(face)) is None  # too few face pixels
    light, dark = np.array([0.95, 0.80, 0.70]), np.array([0.33, 0.21, 0.15])
    assert photo.face_target(light) == pytest.approx(0.70, abs=0.01)
    assert photo.face_target(dark) == pytest.approx(0.34, abs=0.01)  # darker skin stays darker


@pytest.mark.parametrize("curve", ["log", "gamma"])
@pytest.mark.parametrize("linear", [0.01, 0.05, 0.3])
def test_metering_brings_the_face_to_its_target(curve, linear):
    # a face of linear value `linear` seen through a view transform; two previews find the EV
    def view(x):
        if curve == "log":  # AgX-like: display linear in EV over the mid-tones
            return float(np.clip(0.5 + 0.06 * np.log2(x / 0.18), 0, 1))
        return float(np.clip(x, 0, 1) ** (1 / 2.2))

    calls = []

    def measure(ev):
        calls.append(ev)
        return view(linear * 2.0 ** ev)

    ev = photo.metered_ev(measure, 0.6)
    assert len(calls) == 2 and calls[0] == 0.0
    assert photo.EV_RANGE[0] <= ev <= photo.EV_RANGE[1]
    if photo.EV_RANGE[0] < ev < photo.EV_RANGE[1]:
        assert view(linear * 2.0 ** ev) == pytest.approx(0.6, abs=0.03)


def test_metering_without_a_face_or_at_target_changes_little():
    assert photo.metered_ev(lambda ev: None, 0.5) == 0.0
    calls = []
    assert photo.metered_ev(lambda ev: calls.append(ev) or 0.5, 0.5) == 0.0 and calls == [0.0]
    # a face that does not brighten (clipped) keeps the first step, within the range
    ev = photo.metered_ev(lambda ev: 0.01, 0.6)
    assert 0 < ev <= photo.EV_RANGE[1]
