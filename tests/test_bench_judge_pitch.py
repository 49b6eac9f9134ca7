"""bench/bench_judge_pitch.py: the warp that turns a face up or down in its picture, and the fit
that puts a real face on the template."""

import numpy as np
import pytest


@pytest.fixture(scope="module")
def probe(bench_module):
    bench_module("bench_realism")
    return bench_module("bench_judge_pitch")


def test_the_weak_perspective_fit_recovers_a_known_camera(probe, model):
    from facegen.generator.head_model import rotation_matrix

    pts = model.vertices().astype(np.float64)[::50]
    rot = rotation_matrix(25.0, -12.0, 7.0)  # any proper rotation
    s, t = 900.0, np.array([120.0, 80.0])
    image = s * pts @ rot[:2].T + t
    s_fit, rot_fit, t_fit = probe.fit_weak_perspective(pts, image)
    assert s_fit == pytest.approx(s, rel=1e-9)
    assert np.allclose(rot_fit, rot, atol=1e-9)  # the third row too: a rotation, not a reflection
    assert np.allclose(t_fit, t, atol=1e-6)


def test_a_turn_of_zero_redraws_the_picture_where_the_mesh_covers_it(probe, model):
    """Turned by 0 the mesh lands where it was seen, so each covered pixel samples its own centre."""
    verts = model.vertices().astype(np.float64)
    size = 96
    cam = np.stack([verts[:, 0], -verts[:, 2], verts[:, 1] + 1.0], axis=1)  # the face toward the camera

    def project(p):
        return p[:, :2] * 300 + size / 2

    picture = np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8)
    background = np.zeros_like(picture)
    out, move = probe.warp_turned(picture, cam, model.faces, 0.0, project, project, background)
    covered = (out != background).any(axis=2)
    assert covered.mean() > 0.3
    assert np.abs(out.astype(int) - picture.astype(int))[covered].max() <= 1
    assert np.allclose(move(cam[:5]), project(cam[:5]))


def test_a_face_turned_up_brings_the_nose_tip_toward_the_eyes(probe, model):
    """Positive turns raise the chin: the nose tip, in front of the eyes, moves up in the picture
    (image y down) and the chin moves up toward the mouth, by the amount the turn predicts."""
    from facegen.generator.head_model import nose_tip_vertex

    verts = model.vertices().astype(np.float64)
    cam = np.stack([verts[:, 0], -verts[:, 2], verts[:, 1] + 1.0], axis=1)
    tip, eye = nose_tip_vertex(model), np.flatnonzero(model.region_mask("eyeball_left"))

    def project(p):
        return p[:, :2] * 300 + 48

    background = np.zeros((96, 96, 3), np.uint8)
    gap = {}
    for deg in (-20.0, 0.0, 20.0):
        _, move = probe.warp_turned(background, cam, model.faces, deg, project, project, background)
        gap[deg] = move(cam[[tip]])[0, 1] - move(cam[eye]).mean(axis=0)[1]
    assert gap[20.0] < gap[0.0] < gap[-20.0]
