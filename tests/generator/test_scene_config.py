"""Scene config YAML: defaults, overrides, and one clear error per kind of mistake."""

import pytest

from facegen.generator.config import load_scene_config
from facegen.errors import UserError


def test_default_config_loads_and_user_keys_override(tmp_path):
    default = load_scene_config()
    assert default.head_pose.yaw_deg.bounds() == (-90.0, 90.0)
    path = tmp_path / "scene.yaml"
    path.write_text("head_pose:\n  yaw_deg: [-10, 10]\nexpression:\n  neutral_probability: 1.0\n")
    cfg = load_scene_config(path)
    assert cfg.head_pose.yaw_deg.bounds() == (-10.0, 10.0)
    assert cfg.expression.neutral_probability == 1.0
    assert cfg.head_pose.pitch_deg == default.head_pose.pitch_deg  # untouched keys keep defaults


@pytest.mark.parametrize("text, expected", [
    ("head_pose:\n  yaw_deg: [10, -10]\n", "head_pose.yaw_deg: uniform range [10.0, -10.0] has lo > hi"),
    ("head_pose:\n  yaw: [0, 1]\n", "head_pose.yaw: unknown key"),
    ("lights: {}\n", "lights: unknown section"),
    ("camera:\n  focal_length_mm: {normal: [50, -2]}\n", "camera.focal_length_mm.normal: standard deviation"),
    ("camera:\n  focal_length_mm: {gauss: [50, 2]}\n", "camera.focal_length_mm: give exactly one of"),
    ("camera:\n  focal_length_mm: fifty\n", "camera.focal_length_mm: expected a number, [lo, hi] or a mapping"),
    ("lighting:\n  environment: [0, 1]\n", "lighting.environment: expected a name"),
    ("eyes:\n  iris_color: {choice: [brown, purple]}\n", "eyes.iris_color: unknown name 'purple'"),
    ("clothing:\n  neckline: turtle\n", "clothing.neckline: unknown name 'turtle'"),
    ("occluders:\n  lens_reflectance: {choice: [0.005, 0.5]}\n", "occluders.lens_reflectance"),
    ("gaze:\n  at_camera_probability: 1.5\n", "gaze.at_camera_probability: must be in [0, 1], got 1.5"),
    ("environment:\n  key_light_front_probability: 2\n", "environment.key_light_front_probability"),
    ("occluders:\n  object_hold_probability: -0.1\n", "occluders.object_hold_probability"),
    ("environment:\n  key_light_azimuth_deg: [0, 200]\n", "environment.key_light_azimuth_deg"),
    ("expression:\n  smile_probability: 1.5\n", "expression.smile_probability: a probability must be in [0, 1]"),
    ("eyes:\n  iris_color: {choice: [brown, blue], p: [0.5, 0.6]}\n", "eyes.iris_color.p: probabilities"),
    ("skin:\n  tone_from_ancestry: 3\n", "skin.tone_from_ancestry: expected true or false"),
    ("camera: [1, 2]\n", "camera: expected a mapping"),
    ("camera:\n  focal_length_mm: [1, 2\n", "YAML syntax error"),
    ("- a\n- b\n", "expected a mapping of sections"),
])
def test_bad_config_names_file_and_key(tmp_path, text, expected):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(UserError) as info:
        load_scene_config(path)
    message = str(info.value)
    assert message.startswith(str(path)), message
    assert expected in message, message
    assert "\n" not in message


def test_missing_config_file(tmp_path):
    with pytest.raises(UserError, match="cannot read"):
        load_scene_config(tmp_path / "nope.yaml")


@pytest.mark.parametrize("section, pick, key, what, name", [
    ("background", "kind: image", "image_folder", "'image' needs a folder of pictures", "red.png"),
    ("environment", "hdri: {choice: [studio, folder], p: [0.5, 0.5]}", "hdri_folder",
     "'folder' needs a folder of HDRI maps", "sky.exr"),
])
def test_folder_choices_need_a_folder_of_files(tmp_path, section, pick, key, what, name):
    """A distribution that can draw a picture / map from a folder needs a folder holding some."""
    path = tmp_path / "c.yaml"
    path.write_text(f"{section}:\n  {pick}\n  {key}: ''\n")
    with pytest.raises(UserError, match=f"{section}.{key}: {what}"):
        load_scene_config(path)
    folder = tmp_path / "files"
    folder.mkdir()
    path.write_text(f"{section}:\n  {pick}\n  {key}: {folder}\n")
    with pytest.raises(UserError, match="no .* files in"):
        load_scene_config(path)
    (folder / name).write_bytes(b"")  # the config checks names only; the renderer reads the file
    assert getattr(getattr(load_scene_config(path), section), key) == str(folder)


def test_hdri_names_are_the_bundled_ones(tmp_path):
    path = tmp_path / "env.yaml"
    path.write_text("environment:\n  hdri: moon\n")
    with pytest.raises(UserError, match="unknown name 'moon'"):
        load_scene_config(path)
