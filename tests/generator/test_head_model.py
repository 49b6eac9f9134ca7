"""Head model behaviour: expressions, gaze, head pose through the neck, identities."""

import numpy as np
import pytest

from facegen.generator.head_model import Expression, Gaze, HeadPose, Identity, rotation_matrix
from facegen.generator.preview import orthographic_view
from facegen.generator.zbuffer import rasterize


def _eye_centre(model, verts, side):
    return verts[model.region_mask(f"eyeball_{side}")].mean(axis=0)


def test_vertices_deterministic_and_float32(model):
    a = model.vertices(Identity(tuple(np.linspace(-1, 1, model.n_components))))
    b = model.vertices(Identity(tuple(np.linspace(-1, 1, model.n_components))))
    assert a.dtype == np.float32 and a.shape == (model.n_vertices, 3)
    assert np.array_equal(a, b)


def test_jaw_open_lowers_the_chin(model):
    neutral = model.vertices()
    opened = model.vertices(expression=Expression((("jawOpen", 1.0),)))
    face = model.region_mask("face_skin") | model.region_mask("lips")
    drop = neutral[face, 2].min() - opened[face, 2].min()
    assert drop > 0.008  # the chin goes down by more than 8 mm
    # ... and the shoulders do not move.
    torso = model.region_mask("torso")
    assert np.abs(opened[torso] - neutral[torso]).max() < 1e-6


def _visible_eye_pixels(model, verts, side):
    xy, depth, _ = orthographic_view(verts, "front", 256, _eye_centre(model, verts, side), 0.03)
    _, face_id, _ = rasterize(xy, depth, model.faces, 256, 256)
    eye_faces = model.region_mask(f"eyeball_{side}")[model.faces].all(axis=1)
    return int(eye_faces[face_id[face_id >= 0]].sum())


def test_eye_blink_closes_the_lids(model):
    open_left = _visible_eye_pixels(model, model.vertices(), "left")
    blink = model.vertices(expression=Expression((("eyeBlinkLeft", 1.0),)))
    assert open_left > 500
    assert _visible_eye_pixels(model, blink, "left") < 0.1 * open_left
    # The other eye stays open.
    assert _visible_eye_pixels(model, blink, "right") > 0.8 * _visible_eye_pixels(model, model.vertices(), "right")


@pytest.mark.parametrize("unit", [
    "browDownLeft", "browInnerUp", "browOuterUpRight", "cheekPuff", "eyeBlinkRight", "eyeSquintLeft",
    "eyeWideRight", "jawOpen", "jawLeft", "jawRight", "mouthSmileLeft", "mouthSmileRight", "mouthFrownLeft",
    "mouthPucker", "mouthFunnel", "mouthRollLower", "mouthUpperUpRight", "noseSneerLeft",
])
def test_each_unit_moves_its_own_part_of_the_face(model, unit):
    neutral = model.vertices().astype(np.float64)
    moved = model.vertices(expression=Expression(((unit, 1.0),))).astype(np.float64)
    disp = np.linalg.norm(moved - neutral, axis=1)
    assert disp.max() > 0.002, f"{unit} moves nothing"
    centroid = (neutral * disp[:, None]).sum(axis=0) / disp.sum()
    eye_z = 0.5 * (_eye_centre(model, neutral, "left")[2] + _eye_centre(model, neutral, "right")[2])
    mouth_z = neutral[model.region_mask("lips"), 2].mean()
    if unit.startswith("brow"):
        assert centroid[2] > eye_z, unit
    elif unit.startswith("eye"):
        assert abs(centroid[2] - eye_z) < 0.02, unit
    elif unit.startswith(("mouth", "jaw")):
        assert centroid[2] < 0.5 * (eye_z + mouth_z), unit
    elif unit.startswith("nose"):
        assert mouth_z < centroid[2] < eye_z, unit
    # The subject's left is +x: one-sided units move that side, sideways units move toward it.
    side = centroid[0] if unit not in ("jawLeft", "jawRight") else (moved - neutral)[:, 0].mean() * 100
    if unit.endswith("Left"):
        assert side > 0.003, unit
    elif unit.endswith("Right"):
        assert side < -0.003, unit


def test_gaze_rotates_the_eyeballs_about_their_centres(model):
    neutral = model.vertices().astype(np.float64)
    looked = model.vertices(gaze=Gaze(yaw_deg=20.0, pitch_deg=10.0)).astype(np.float64)
    for side in ("left", "right"):
        m = model.region_mask(f"eyeball_{side}")
        c0, c1 = neutral[m].mean(axis=0), looked[m].mean(axis=0)
        assert np.linalg.norm(c0 - c1) < 1e-6
        # The pupil is the eyeball's front-most vertex (smallest y): it must turn by the gaze.
        front = np.argmin(neutral[m, 1])
        d0 = neutral[m][front] - c0
        d1 = looked[m][front] - c1
        expected = rotation_matrix(20.0, 10.0, 0.0) @ d0
        np.testing.assert_allclose(d1, expected, atol=1e-6)
        assert d1[0] > d0[0] and d1[2] > d0[2]  # toward the subject's left (+x) and up
    others = ~(model.region_mask("eyeball_left") | model.region_mask("eyeball_right"))
    assert np.abs(looked[others] - neutral[others]).max() < 1e-7


def _rigid_fit(a, b):
    """Rotation R minimising |R a_c - b_c| (Kabsch)."""
    ac, bc = a - a.mean(0), b - b.mean(0)
    u, _, vt = np.linalg.svd(bc.T @ ac)
    d = np.sign(np.linalg.det(u @ vt))
    return u @ np.diag([1, 1, d]) @ vt


@pytest.mark.parametrize("pose", [HeadPose(90, 0, 0), HeadPose(-45, 20, 10), HeadPose(0, -30, 0), HeadPose(10, 5, -25)])
def test_head_pose_turns_the_head_bends_the_neck_keeps_the_shoulders(model, pose):
    neutral = model.vertices().astype(np.float64)
    posed = model.vertices(head_pose=pose).astype(np.float64)
    torso = model.region_mask("torso")
    assert np.abs(posed[torso] - neutral[torso]).max() < 1e-6
    head = model.region_mask("face_skin") | model.region_mask("scalp")
    r = _rigid_fit(neutral[head], posed[head])
    np.testing.assert_allclose(r, rotation_matrix(pose.yaw_deg, pose.pitch_deg, pose.roll_deg), atol=2e-3)
    # The neck bends: its vertices turn by less than the head and more than nothing.
    neck = model.region_mask("neck")
    r_neck = _rigid_fit(neutral[neck], posed[neck])
    full = np.degrees(np.arccos((np.trace(rotation_matrix(pose.yaw_deg, pose.pitch_deg, pose.roll_deg)) - 1) / 2))
    neck_angle = np.degrees(np.arccos(np.clip((np.trace(r_neck) - 1) / 2, -1, 1)))
    assert 0.1 * full < neck_angle < 0.9 * full
    # Without collapsing (no linear-blend "candy wrapper"): the neck keeps its surface area and
    # most of its edges stretch little.
    tri = model.faces[neck[model.faces].all(axis=1)]

    def area(v):
        t = v[tri]
        return 0.5 * np.linalg.norm(np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0]), axis=1).sum()

    assert abs(area(posed) / area(neutral) - 1) < 0.15
    edges = np.concatenate([tri[:, [0, 1]], tri[:, [1, 2]]])
    l0 = np.linalg.norm(neutral[edges[:, 0]] - neutral[edges[:, 1]], axis=1)
    l1 = np.linalg.norm(posed[edges[:, 0]] - posed[edges[:, 1]], axis=1)
    stretch = np.abs(l1 / l0 - 1)
    assert np.median(stretch) < 0.2 and np.percentile(stretch, 90) < 0.5


def test_identity_attributes_change_the_face(model):
    face = model.region_mask("face_skin")

    def rms(a, b):
        return float(np.sqrt(((a[face] - b[face]) ** 2).sum(axis=1).mean()))

    base = model.vertices(model.identity_from_attributes())
    for attrs in ({"age": 80}, {"gender": 0.0}, {"gender": 1.0}, {"weight": 1.0},
                  {"african": 1, "asian": 0, "caucasian": 0}, {"african": 0, "asian": 1, "caucasian": 0}):
        assert rms(base, model.vertices(model.identity_from_attributes(**attrs))) > 0.001, attrs
    with pytest.raises(ValueError, match="unknown identity attribute"):
        model.identity_from_attributes(shoe_size=3)
    with pytest.raises(ValueError, match="coefficients"):
        model.vertices(Identity((1.0, 2.0)))
