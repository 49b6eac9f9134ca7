"""Strand shapes (generator/hair.py) and glasses geometry (generator/occluders.py), numpy only."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from facegen.generator import hair, occluders
from facegen.generator.config import load_scene_config
from facegen.generator.head_model import HeadPose, fit_rotation, vertex_normals
from facegen.generator.samplers import sample_scene


@pytest.fixture(scope="module")
def layout(model):
    return hair.HairLayout(model)


def _scene(index=0, **strands):
    scene = sample_scene(load_scene_config(), 4, index)
    scene = dataclasses.replace(scene, hair=dataclasses.replace(scene.hair, scalp_hair=True, beard=True))
    return dataclasses.replace(scene, strands=dataclasses.replace(scene.strands, **strands))


def test_the_scalp_mask_covers_the_crown_not_the_face(layout, model):
    w = layout.scalp_weights(0.0)
    v = layout.rest
    crown = np.argmax(np.where(model.region_mask("scalp"), v[:, 2], -np.inf))
    assert w[crown] == 1.0
    for region in ("lips", "eyelids", "ears", "eyeball_left", "torso"):
        assert w[model.region_mask(region)].max() == 0.0, region
    nose_tip = np.argmin(np.where(model.region_mask("face_skin"), v[:, 1], np.inf))
    assert w[nose_tip] == 0.0
    assert layout.scalp_weights(0.04).sum() < 0.9 * w.sum()  # a receding hairline: less scalp


@pytest.mark.parametrize("style", ["buzz", "short", "long", "tied_back"])
def test_guides_grow_from_the_scalp_stay_off_the_head_and_keep_their_length(layout, model, style):
    scene = _scene(style=style, length_m=float(np.mean(hair.STYLE_LENGTH_M[style])), volume_m=0.005)
    posed = model.scene_vertices(scene)
    g = hair.grow_guides(layout, posed, scene.strands, np.random.default_rng(scene.strands.seed))
    assert g.shape == (hair.GUIDES, hair.GUIDE_POINTS, 3)
    again = hair.grow_guides(layout, posed, scene.strands, np.random.default_rng(scene.strands.seed))
    assert np.array_equal(g, again)  # a function of the scene
    length = np.linalg.norm(np.diff(g, axis=1), axis=2).sum(axis=1)
    assert 0.6 * scene.strands.length_m < np.median(length) < 1.5 * scene.strands.length_m
    # Every point past the root lies on the outer side of the nearest head vertex (within 2 mm: the
    # push-out is along one vertex's normal, on a mesh with ~1 cm triangles on the skull).
    cloud = posed[layout.skull]
    normals = vertex_normals(posed, layout.faces)[layout.skull]
    pts = g[:, 1:].reshape(-1, 3)
    near = np.argmin(((pts[:, None] - cloud[None]) ** 2).sum(-1), axis=1)
    height = ((pts - cloud[near]) * normals[near]).sum(axis=1)
    assert height.min() > -0.002
    if style in ("long", "tied_back"):  # long hair falls: the tips end below the roots
        assert np.median(g[:, -1, 2] - g[:, 0, 2]) < -0.05


def _over_face(layout, posed, points, half_width):
    """How many of ``points`` (..., 3) lie over the face: below its top, in front of the ears,
    within ``half_width`` of the midline (template frame)."""
    rot, rest_c, posed_c = hair.head_frame(layout, posed)
    return int(hair.over_face(layout, (points.reshape(-1, 3) - posed_c) @ rot + rest_c, half_width).sum())


def test_scalp_guides_keep_off_the_face(layout, model, monkeypatch):
    """Hair long enough to reach the face, parted deep on either side, combed sideways or back, on
    heads in their sampled poses: no guide point lies over the face (within FACE_HALF_WIDTH_M of the
    midline, less 3 mm for the push off the skin); without the keep-off many do."""
    cases = [(i, style, part, back) for i, style in enumerate(("medium", "long", "curly"))
             for part in (-0.045, 0.0, 0.045) for back in (0.0, 0.85)]

    def over(width):
        n = 0
        for i, style, part, back in cases:
            scene = _scene(i, style=style, length_m=float(np.max(hair.STYLE_LENGTH_M[style])), part_x=part,
                           comb_back=back)
            posed = model.scene_vertices(scene).astype(np.float64)
            g = hair.grow_guides(layout, posed, scene.strands, np.random.default_rng(scene.strands.seed))
            n += _over_face(layout, posed, g[:, 1:], width)  # roots may lie on the temples
        return n

    width = hair.FACE_HALF_WIDTH_M - 0.003
    assert over(width) == 0
    monkeypatch.setattr(hair, "FACE_HALF_WIDTH_M", 0.0)  # no steering, no clamp
    assert over(width) > 50


def test_grown_strands_that_cross_the_face_are_left_out(layout, model):
    """``strands_off_face`` on three strands of the template head, then of the head turned and
    moved: one down the middle of the face is left out, one beside the cheek and one above the
    brows kept."""
    top, front = layout.face_top, layout.face_back_y - 0.05
    z = np.linspace(top + 0.05, top - 0.10, 6)
    strands = [np.column_stack([np.full(6, x), np.full(6, front), zz]) for x, zz in
               ((0.0, z), (hair.FACE_CLEAR_M + 0.02, z), (0.0, np.full(6, top + 0.01)))]
    points, offsets = np.concatenate(strands), np.array([0, 6, 12, 18])
    rest = layout.rest
    assert hair.strands_off_face(layout, rest, points, offsets).tolist() == [False, True, True]
    turn = fit_rotation(np.eye(3), np.array([[0.8, 0.6, 0.0], [-0.6, 0.8, 0.0], [0.0, 0.0, 1.0]]))
    shift = np.array([0.1, -0.2, 0.05])
    moved = hair.strands_off_face(layout, rest @ turn.T + shift, points @ turn.T + shift, offsets)
    assert moved.tolist() == [False, True, True]


def test_hair_turns_with_the_head(layout, model):
    """The same guides on a head turned 40 degrees: the tips relative to the roots turn with it."""
    scene = _scene(style="short", length_m=0.05, volume_m=0.005)
    turned = dataclasses.replace(scene, head_pose=HeadPose(scene.head_pose.yaw_deg + 40.0, scene.head_pose.pitch_deg,
                                                           scene.head_pose.roll_deg))
    a = hair.grow_guides(layout, model.scene_vertices(scene), scene.strands, np.random.default_rng(1))
    b = hair.grow_guides(layout, model.scene_vertices(turned), turned.strands, np.random.default_rng(1))
    da, db = (x[:, -1] - x[:, 0] for x in (a, b))
    ang = np.degrees(np.arctan2(db[:, 0], -db[:, 1]) - np.arctan2(da[:, 0], -da[:, 1]))
    assert abs(np.median((ang + 180) % 360 - 180)) > 20


def test_face_strands_grow_where_the_face_has_hair(layout, model):
    scene = dataclasses.replace(_scene(beard_style="full", beard_length_m=0.02, beard_density=1.0),
                                head_pose=HeadPose(0.0, 0.0, 0.0))  # upright: heights compare
    posed = model.scene_vertices(scene)
    brows, lashes, beard = hair.face_strands(layout, posed, scene, np.random.default_rng(0))
    assert (brows.name, lashes.name, beard.name) == ("brows", "lashes", "beard")
    eyes = posed[model.region_mask("eyeball_left") | model.region_mask("eyeball_right")]
    assert (brows.points[:, 0, 2] > eyes[:, 2].max() - 0.005).mean() > 0.95  # brows above the eyes
    assert np.abs(lashes.points[:, 0, 2] - eyes[:, 2].mean()).max() < 0.03  # lashes at the lids
    assert len(beard.points) > 1000 and beard.points[:, 0, 2].max() < eyes[:, 2].min()  # below the eyes
    shaved = dataclasses.replace(scene, hair=dataclasses.replace(scene.hair, beard=False))
    assert len(hair.face_strands(layout, posed, shaved, np.random.default_rng(0))[2].points) == 0


def test_glasses_sit_in_front_of_the_eyes_with_a_fixed_topology(model):
    layout = occluders.OccluderLayout(model)
    scene = sample_scene(load_scene_config(), 4, 2)
    posed = model.scene_vertices(scene)
    a = occluders.glasses_mesh(layout, posed, dataclasses.replace(scene.occluders, glasses="clear"))
    b = occluders.glasses_mesh(layout, posed, dataclasses.replace(scene.occluders, glasses="clear", lens_width_m=0.04,
                                                                 roundness=1.0))
    assert np.array_equal(a.frame_faces, b.frame_faces) and a.frame_vertices.shape == b.frame_vertices.shape
    rot = fit_rotation(layout.rest[layout.pose_set], posed[layout.pose_set])
    for side in (0, 1):
        eye = posed[layout.eyes[side]].mean(axis=0)
        lens = a.lens_vertices[side * (occluders.RIM_POINTS + 1)]  # each lens fan starts at its centre
        forward = (lens - eye) @ rot[:, 1]  # head frame +y is back: the lens is in front (negative)
        assert -0.03 < forward < -0.015


def test_held_objects_have_real_sizes_and_sit_between_face_and_camera(model):
    objects = occluders.load_objects()
    assert set(objects) == set(occluders.OBJECT_NAMES)
    for name, (v, f, c) in objects.items():
        size = (v.max(0) - v.min(0)).max()
        assert 0.05 < size < 0.25 and f.max() < len(v) and len(c) == len(f) and (0 <= c).all() and (c <= 1).all(), name
    layout = occluders.OccluderLayout(model)
    assert all(len(layout.anchors[a]) for a in occluders.ANCHORS)
    scene = sample_scene(load_scene_config(), 4, 3)
    posed = model.scene_vertices(scene)
    camera = posed.mean(0) + np.array([0.0, -1.0, 0.1])
    for anchor in occluders.ANCHORS:
        params = dataclasses.replace(scene.occluders, object="phone", object_anchor=anchor, object_offset_m=0.06,
                                     object_scale=1.0)
        m = occluders.object_transform(layout, posed, params, camera)
        at = posed[layout.anchors[anchor]].astype(np.float64).mean(0)
        assert abs(np.linalg.norm(m[:3, 3] - at) - 0.06) < 1e-9  # 6 cm from its anchor...
        assert np.linalg.norm(camera - m[:3, 3]) < np.linalg.norm(camera - at)  # ...toward the camera
        np.testing.assert_allclose(m[:3, :3] @ m[:3, :3].T, np.eye(3), atol=1e-9)  # scale 1: a rotation


def test_holds_place_objects_in_the_heads_frame(model):
    """A hold's turn survives the trip through (yaw, pitch, roll); its shift is taken in the head's
    frame, so the object keeps its place on the face whatever the head pose and the camera."""
    from facegen.generator.head_model import rotation_matrix

    rng = np.random.default_rng(0)
    for _ in range(50):
        rot = rotation_matrix(*rng.uniform(-180, 180, 3))
        np.testing.assert_allclose(rotation_matrix(*occluders.euler_angles(rot)), rot, atol=1e-9)
    anchor, shift, turn = occluders.hold("plastic_cup", 0.0, np.zeros(6))  # the first hold, not jittered
    assert (anchor, shift, turn) == ("mouth", (0.0, -0.05, -0.035), (0.0, 35.0, 0.0))
    assert occluders.hold("plastic_cup", 0.99, np.zeros(6))[0] == "chin"
    assert occluders.hold("comb", 0.5, np.zeros(6)) is None  # no holds: placed at random
    layout = occluders.OccluderLayout(model)
    scene = sample_scene(load_scene_config(), 4, 3)
    params = dataclasses.replace(scene.occluders, object="plastic_cup", object_anchor=anchor, object_offset_m=0.0,
                                 object_rotation_deg=turn, object_scale=1.0, object_shift_m=shift)
    local = []
    for yaw, camera in ((0.0, np.array([0.0, -1.0, 0.1])), (50.0, np.array([0.6, -0.8, 0.3]))):
        posed = model.scene_vertices(dataclasses.replace(scene, head_pose=HeadPose(yaw_deg=yaw, pitch_deg=10.0)))
        head = fit_rotation(layout.rest[layout.pose_set], posed[layout.pose_set].astype(np.float64))
        m = occluders.object_transform(layout, posed, params, posed.mean(0) + camera)
        at = posed[layout.anchors[anchor]].astype(np.float64).mean(0)
        local.append((head.T @ (m[:3, 3] - at), head.T @ m[:3, :3]))
    np.testing.assert_allclose(local[0][0], shift, atol=1e-9)  # 5 cm in front of the lips, 3.5 cm below
    np.testing.assert_allclose(local[1][0], shift, atol=1e-9)
    np.testing.assert_allclose(local[0][1], local[1][1], atol=1e-9)  # turned with the head, not the camera
    np.testing.assert_allclose(local[0][1], rotation_matrix(*turn), atol=1e-9)
    # a cup held low stays level when the head tips back; a sip at the lips tips with the head
    pose = HeadPose(pitch_deg=30.0, roll_deg=10.0)
    head_turn = rotation_matrix(pose.yaw_deg, pose.pitch_deg, pose.roll_deg)
    assert occluders.hold("plastic_cup", 0.0, np.zeros(6), head_turn)[2] == turn
    anchor, shift, low = occluders.hold("coffee_cup", 0.0, np.zeros(6), head_turn)
    posed = model.scene_vertices(dataclasses.replace(scene, head_pose=pose))
    params = dataclasses.replace(params, object="coffee_cup", object_anchor=anchor, object_rotation_deg=low,
                                 object_shift_m=shift)
    camera = posed.mean(0) + np.array([0.0, -1.0, 0.1])
    up = occluders.object_transform(layout, posed, params, camera)[:3, 2]
    # within 8 degrees of vertical (the head's fitted turn is not exactly its pose's), not 30
    assert np.degrees(np.arccos(up[2])) < 8.0
    tipped = dataclasses.replace(params, object_rotation_deg=occluders.hold("coffee_cup", 0.0, np.zeros(6))[2])
    assert np.degrees(np.arccos(occluders.object_transform(layout, posed, tipped, camera)[2, 2])) > 25.0


def test_hands_face_the_face_in_front_of_their_anchor(model):
    """The palm's near side is ``offset_m`` in front of the anchor along the head's facing
    direction, whatever the head pose and pose of the fingers; fingers point up at roll 0 and
    across the face, away from the hand's side, at roll 90; the left hand is the right one
    mirrored (the same size, thumb on the other side, triangles wound the other way)."""
    from importlib import resources

    from facegen.generator.scene import HandParams

    poses, faces, uvs = occluders.load_hands()
    assert set(poses) == set(occluders.HAND_POSES) and uvs.shape == (len(faces), 3, 2)
    open_hand = poses["open"]
    wrist_to_tip = open_hand[:, 1].max() - np.load(resources.files("facegen.assets") / "hands.npz")["wrist"][1]
    assert 0.16 < wrist_to_tip < 0.22  # an adult hand: wrist crease to middle fingertip ~19 cm
    reach = {p: v[:, 1].max() for p, v in poses.items()}
    assert reach["fist"] < reach["cupped"] < reach["open"] and reach["point"] > reach["fist"] + 0.04
    layout = occluders.OccluderLayout(model)
    for yaw in (0.0, 35.0):
        scene = dataclasses.replace(sample_scene(load_scene_config(), 4, 5), head_pose=HeadPose(yaw, 10.0, 5.0))
        posed = model.scene_vertices(scene)
        rot = fit_rotation(layout.rest[layout.pose_set], posed[layout.pose_set])  # columns: left, back, up
        anchor = posed[layout.anchors["mouth"]].mean(0)
        for pose in occluders.HAND_POSES:
            params = HandParams("right", pose, "mouth", 0.03, (0.0, 0.0), 0.0, 0.0, 0.0, 1.0)
            v, f = occluders.hand_mesh(layout, posed, params)
            local = (v - anchor) @ rot
            assert abs(local[:, 1].max() + 0.03) < 1e-6, pose  # the near side 3 cm in front
            assert np.array_equal(f, faces)
        up = occluders.hand_mesh(layout, posed, HandParams("right", "point", "mouth", 0.03, (0.0, 0.0), 0.0, 0.0,
                                                          0.0, 1.0))[0]
        tip = (up[np.argmax((up - anchor) @ rot[:, 2])] - anchor) @ rot
        assert tip[2] > 0.08 and abs(tip[0]) < 0.05  # the index finger points up
        for side, sign in (("right", 1.0), ("left", -1.0)):
            v, f = occluders.hand_mesh(layout, posed, HandParams(side, "point", "mouth", 0.03, (0.0, 0.0), 90.0,
                                                                0.0, 0.0, 1.0))
            local = (v - anchor) @ rot
            tip = local[np.argmax(sign * local[:, 0])]
            assert sign * tip[0] > 0.08 and abs(tip[2]) < 0.04, side  # across the face, toward the other side
            elbow = local[np.argmin(sign * local[:, 0])]
            assert sign * elbow[0] < -0.2, side  # the forearm comes from the hand's own side
    right, _ = occluders.hand_mesh(layout, posed, HandParams("right", "open", "nose", 0.03, (0.0, 0.0), 0.0, 0.0,
                                                             0.0, 1.0))
    left, lf = occluders.hand_mesh(layout, posed, HandParams("left", "open", "nose", 0.03, (0.0, 0.0), 0.0, 0.0,
                                                             0.0, 1.0))
    assert np.array_equal(lf, faces[:, ::-1])
    nose = posed[layout.anchors["nose"]].mean(0)
    mirror = np.diag([-1.0, 1.0, 1.0])
    np.testing.assert_allclose((left - nose) @ rot, (right - nose) @ rot @ mirror, atol=1e-6)


def test_the_skin_under_a_beard_is_shaded_where_its_style_grows_and_lighter_than_paint(model):
    """Stubble and the skin under strand beards are a shade (appearance.BEARD_SHADE), cut to the
    style's area: a moustache darkens the upper lip, not the chin; stubble darkens both, less than
    the painted beard of a scene without strands."""
    from facegen.generator.appearance import Albedo, beard_weights

    albedo = Albedo(model)
    base = _scene(beard_style="stubble", beard_density=1.0)
    shaved = albedo.albedo(dataclasses.replace(base, hair=dataclasses.replace(base.hair, beard=False))).sum(axis=1)
    moustache = albedo.albedo(dataclasses.replace(base, strands=dataclasses.replace(
        base.strands, beard_style="moustache"))).sum(axis=1)
    stubble = albedo.albedo(base).sum(axis=1)
    painted = albedo.albedo(dataclasses.replace(base, strands=dataclasses.replace(
        base.strands, beard_style="none"))).sum(axis=1)
    verts, w = model.vertices(), beard_weights(model)
    lips = verts[model.region_mask("lips")]
    upper_lip = (w > 0.9) & (verts[:, 2] > lips[:, 2].max()) & (np.abs(verts[:, 0]) < 0.01)
    chin = (w > 0.9) & (verts[:, 2] < lips[:, 2].min() - 0.01) & (np.abs(verts[:, 0]) < 0.01)
    assert upper_lip.sum() > 5 and chin.sum() > 5
    assert (moustache[upper_lip] < shaved[upper_lip] - 0.05).all()
    np.testing.assert_allclose(moustache[chin], shaved[chin])
    assert (stubble[chin] < shaved[chin] - 0.05).all()
    assert (painted[chin] < stubble[chin] - 0.05).all()  # no strands: the paint is all the beard there is
