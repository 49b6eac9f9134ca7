"""The arms and trunk below the bust (generator/body.py): they join the cuts exactly, hide them in
every frame, leave the frame, and hide no landmark."""

import numpy as np
import pytest

from facegen.generator import body
from facegen.generator.camera import scene_camera
from facegen.generator.config import load_scene_config
from facegen.generator.head_model import HeadModel
from facegen.generator.projection import load_spec, project_landmarks
from facegen.generator.samplers import sample_scene
from facegen.generator.zbuffer import rasterize


@pytest.fixture(scope="module")
def model():
    return HeadModel.load()


@pytest.fixture(scope="module")
def scenes(model):
    """(scene, posed vertices, camera) of 60 default scenes at 128 px."""
    cfg = load_scene_config()
    out = []
    for i in range(60):
        scene = sample_scene(cfg, 3, i)
        v = model.scene_vertices(scene)
        out.append((scene, v, scene_camera(model, scene, v, 128, 128)))
    return out


def test_the_bust_has_two_arm_holes_and_a_chest_cut(model):
    found = body.cuts(model.faces)
    rest = model.vertices()
    assert len(found) == 3
    sides = sorted(np.sign(rest[ring, 0].mean()) for _, ring in found if abs(rest[ring, 0].mean()) > 0.1)
    assert sides == [-1.0, 1.0]
    for centre, ring in found:  # each ring is the closed loop of its fan
        assert len(np.unique(ring)) == len(ring) == ((model.faces == centre).any(axis=1)).sum()


def test_tubes_start_on_the_cut_and_face_outward(model, scenes):
    for _, v, _ in scenes[:10]:
        ext = body.extension(v, model.faces)
        first = ext.ring == 0
        np.testing.assert_array_equal(ext.vertices[first], v[ext.source[first]])  # no gap at the joint
        assert np.isfinite(ext.vertices).all() and ext.faces.max() < len(ext.vertices)
        # the walls face away from their tube's axis (the mean of their ring)
        tri = ext.vertices[ext.faces]
        normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        rings = ext.ring[ext.faces[:, 0]]
        tube = ext.tube[ext.faces[:, 0]]
        axis = np.zeros((ext.tube.max() + 1, ext.ring.max() + 1, 3))
        for t in np.unique(ext.tube):
            for r in np.unique(ext.ring[ext.tube == t]):
                axis[t, r] = ext.vertices[(ext.tube == t) & (ext.ring == r)].mean(axis=0)
        radial = tri.mean(axis=1) - axis[tube, rings]
        outward = (normal * radial).sum(axis=1) > 0
        # all of them past the arms' bend; in the bend the inside of the turn folds (the armpit)
        straight = (rings >= body.BEND_RINGS) | (tube == 1)
        assert outward[straight].all()
        assert outward.mean() > 0.95


def test_no_cut_shows_and_the_tubes_leave_the_frame(model, scenes):
    """The flat fans over the cuts are inside the tubes (but for a sliver of a few pixels where
    the ragged cut meets its tube, in a few frames), and the tubes' open ends are below the frame.
    Without the tubes the fans show in most frames, over hundreds of pixels (asserted too)."""
    fans = np.flatnonzero(body.fan_faces(model.faces))
    shown_without, slivers = 0, 0
    for _, v, cam in scenes:
        ext = body.extension(v, model.faces)
        faces = np.concatenate([model.faces, ext.faces + len(v)])
        uv, z = cam.project(np.concatenate([v, ext.vertices]))
        face_id = rasterize(uv, z, faces, cam.height, cam.width)[1]
        shown = np.isin(face_id, fans).sum()
        assert shown <= 5
        slivers += shown > 0
        shown_without += np.isin(rasterize(uv[: len(v)], z[: len(v)], model.faces, cam.height, cam.width)[1],
                                 fans).sum() > 20
        for t in np.unique(ext.tube):
            end = (ext.tube == t) & (ext.ring == ext.ring[ext.tube == t].max())
            e_uv, e_z = cam.project(ext.vertices[end])
            assert ((e_uv[:, 1] > cam.height) | (e_z <= 0)).all()
    assert shown_without > len(scenes) // 2 and slivers < len(scenes) // 10


def test_the_tubes_hide_no_landmark(model, scenes):
    """Visibility with the tubes in the depth map is what it is without them (60 scenes)."""
    spec = load_spec("68", model)
    for _, v, cam in scenes:
        ext = body.extension(v, model.faces)
        faces = np.concatenate([model.faces, ext.faces + len(v)])
        uv, z = cam.project(np.concatenate([v, ext.vertices]))
        with_body = rasterize(uv, z, faces, cam.height, cam.width)[0]
        alone = rasterize(uv[: len(v)], z[: len(v)], model.faces, cam.height, cam.width)[0]
        a = project_landmarks(spec, v, model.faces, cam, depth_map=with_body)
        b = project_landmarks(spec, v, model.faces, cam, depth_map=alone)
        np.testing.assert_array_equal(a.visible, b.visible)


def test_garment_weights_make_sleeves(model):
    ext = body.extension(model.vertices(), model.faces)
    cloth = np.zeros(model.n_vertices)
    arm = next(ring for _, ring in body.cuts(model.faces) if model.vertices()[ring, 0].mean() > 0.1)
    cloth[arm[: len(arm) // 3]] = 1.0  # a top that reaches a third of the arm hole
    w = body.garment_weights(ext, cloth)
    first = ext.ring == 0
    np.testing.assert_array_equal(w[first], cloth[ext.source[first]])
    tube = ext.tube[np.flatnonzero(np.isin(ext.source, arm))[0]]
    assert (w[(ext.tube == tube) & (ext.ring >= body.SLEEVE_RINGS)] == 1.0).all()  # a sleeve all round
    assert (w[(ext.tube != tube)] == 0.0).all()
