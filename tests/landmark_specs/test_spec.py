"""Spec loading, validation errors and resolving on the head template."""

from pathlib import Path

import numpy as np
import pytest

from facegen.generator.head_model import HeadModel
from facegen.generator.projection import template_mesh
from facegen.landmark_specs.resolve import resolve_spec
from facegen.landmark_specs.spec_file import SpecError, load_spec_definition, shipped_specs

SHIPPED = {"68": 68, "243": 243, "460": 460, "490": 490, "1001": 1001}


@pytest.fixture(scope="module")
def mesh():
    return template_mesh(HeadModel.load())


@pytest.fixture(scope="module")
def resolved(mesh):
    return {name: resolve_spec(name, mesh) for name in SHIPPED}


def test_shipped_counts_come_from_the_files(resolved):
    assert sorted(shipped_specs()) == sorted(SHIPPED)
    for name, k in SHIPPED.items():
        spec = resolved[name]
        assert spec.n_landmarks == k == len(spec.triangle) == len(spec.flip)
        assert len(set(spec.names)) == k
        assert spec.group_slices[-1][1] == k


def test_flip_is_an_involution_and_mirrors_positions(resolved, mesh):
    v, f = mesh.vertices, mesh.faces
    for spec in resolved.values():
        assert np.array_equal(spec.flip[spec.flip], np.arange(spec.n_landmarks))
        pos = np.einsum("kc,kcd->kd", spec.bary, v[f[spec.triangle]])
        mirrored = pos[spec.flip] * [-1, 1, 1]
        assert np.abs(mirrored - pos).max() < 0.004  # within a few mm on the (nearly) symmetric mean head


def test_ibug68_map_and_68_layout(resolved, mesh):
    s68 = resolved["68"]
    assert np.array_equal(s68.ibug68, np.arange(s68.n_landmarks))
    pos = np.einsum("kc,kcd->kd", s68.bary, mesh.vertices[mesh.faces[s68.triangle]])
    jaw = s68.group_slices[s68.group_names.index("jaw")]
    # iBUG order runs from the subject's right (-x) over the chin to the left (+x)
    assert pos[jaw[0], 0] < -0.05 and pos[jaw[1] - 1, 0] > 0.05
    assert abs(pos[(jaw[0] + jaw[1]) // 2, 0]) < 1e-3
    eye_r = s68.group_slices[s68.group_names.index("eye_right")]
    assert pos[eye_r[0]:eye_r[1], 0].max() < 0  # right eye is at -x
    assert s68.silhouette.sum() == jaw[1] - jaw[0]


def test_includes_and_overrides(resolved):
    s243, s460, s490 = resolved["243"], resolved["460"], resolved["490"]
    assert s460.group_names == s243.group_names
    assert set(s243.group_names) < set(s490.group_names)
    assert s460.content_hash != s243.content_hash


def test_resolve_is_deterministic(mesh, resolved):
    again = resolve_spec("490", mesh)
    assert again.content_hash == resolved["490"].content_hash
    assert np.array_equal(again.bary, resolved["490"].bary)


def write(tmp_path: Path, text: str, name="s.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


GOOD = """
groups:
  nose:
    points: [{vertex: %d, name: tip}]
  lids:
    anchors: [%d, %d]
    count: 4
"""


@pytest.mark.parametrize("text, where, words", [
    ("groups: {a: {points: [99999]}}", "groups.a.points[0]", "unknown vertex id"),
    ("groups: {a: {points: [{triangle: 999999, bary: [1, 0, 0]}]}}", "groups.a.points[0]", "unknown triangle"),
    ("groups: {a: {points: [{triangle: 1, bary: [1.5, -0.5, 0]}]}}", "groups.a.points[0].bary", ">= 0"),
    ("groups: {a: {points: [{triangle: 1, bary: [0.5, 0.2, 0.2]}]}}", "groups.a.points[0].bary", "sum to 1"),
    ("groups: {a: {anchors: [1, 2], count: 1}}", "groups.a.count", ">= 2"),
    ("groups: {a: {mirror: nothere}}", "groups.a.mirror", "unknown group"),
    ("groups: {a: {points: [1]}, b: {points: [{vertex: 2, name: a_0}]}}", "groups.b", "duplicate landmark name"),
    ("groups: {a: {points: [1]}}\ngroups: {b: {points: [1]}}", "line", "duplicate key"),
    ("groups: {a: {points: [1]}\n", "line", "YAML syntax error"),
    ("include: [missing.yaml]\ngroups: {a: {points: [1]}}", "include[0]", "no spec file"),
    ("groups: {a: {points: [1], count: 3}}", "groups.a.count", "not allowed"),
    ("groups: {a: {anchors: [1, 2], count: 3, colour: red}}", "groups.a.colour", "unknown key"),
    ("ibug68: [nope]\ngroups: {a: {points: [1]}}", "ibug68[0]", "unknown landmark or group"),
    ("groups: {a: {anchors: [1, 2], count: 3, keep_anchors: 1}}", "groups.a.keep_anchors", "true or false"),
    ("groups: {a: {points: [1]}}\nibug68: [a@0]", "ibug68[0]", "not a curve group with keep_anchors"),
])
def test_each_error_names_file_and_key(tmp_path, mesh, text, where, words):
    p = write(tmp_path, text)
    with pytest.raises(SpecError) as exc:
        resolve_spec(str(p), mesh)
    msg = str(exc.value)
    assert str(p) in msg and where in msg and words in msg
    assert "\n" not in msg


def test_include_cycle(tmp_path, mesh):
    write(tmp_path, "include: [b.yaml]\ngroups: {a: {points: [1]}}", "a.yaml")
    write(tmp_path, "include: [a.yaml]\ngroups: {b: {points: [2]}}", "b.yaml")
    with pytest.raises(SpecError, match="include cycle: a.yaml -> b.yaml -> a.yaml"):
        load_spec_definition(tmp_path / "a.yaml")


def test_disconnected_curve_anchors(tmp_path, mesh):
    eye = int(np.flatnonzero(mesh.regions["eyeball_left"])[0])
    nose = int(np.argmin(mesh.vertices[:, 1]))
    p = write(tmp_path, f"groups: {{a: {{anchors: [{nose}, {eye}], count: 3}}}}")
    with pytest.raises(SpecError, match=r"groups.a.anchors\[1\]: anchor is not connected"):
        resolve_spec(str(p), mesh)


def test_wrong_flip_pairs(tmp_path, mesh):
    v = mesh.vertices
    left = int(np.argmin(np.linalg.norm(v - [0.04, -0.12, 0.10], axis=1)))
    right = int(mesh.mirror[left])
    ok = f"groups: {{a_left: {{points: [{left}]}}, a_right: {{points: [{right}]}}}}"
    assert resolve_spec(str(write(tmp_path, ok)), mesh).flip.tolist() == [1, 0]
    bad = f"groups: {{a: {{points: [{left}]}}, b: {{points: [{right}]}}}}\nflip_pairs: [[a, a]]"
    with pytest.raises(SpecError, match="flip_pairs: wrong flip pair"):
        resolve_spec(str(write(tmp_path, bad)), mesh)
    asym = f"groups: {{a: {{points: [{left}]}}}}"
    with pytest.raises(SpecError, match="has no mirror partner"):
        resolve_spec(str(write(tmp_path, asym)), mesh)


def test_curve_samples_lie_on_the_surface_evenly(tmp_path, mesh):
    s = resolve_spec("243", mesh)
    a, b = s.group_slices[s.group_names.index("nose_bridge")]
    pos = np.einsum("kc,kcd->kd", s.bary[a:b], mesh.vertices[mesh.faces[s.triangle[a:b]]])
    steps = np.linalg.norm(np.diff(pos, axis=0), axis=1)
    assert steps.max() < 2.0 * steps.mean()
    assert np.all(s.bary >= -1e-9) and np.allclose(s.bary.sum(axis=1), 1.0)


def test_frontal_hits_match_a_test_against_every_triangle(mesh):
    """The grid lookup must find the same nearest hit as casting each ray at all triangles, also
    for rays through vertices and edge midpoints (on triangle borders) and rays that miss."""
    from facegen.landmark_specs.surface import Surface
    surface = Surface(mesh)
    v, f = surface.v, surface.f
    rng = np.random.default_rng(0)
    xz = np.concatenate([v[rng.choice(len(v), 300, replace=False)][:, [0, 2]],
                         ((v[f[:200, 0]] + v[f[:200, 1]]) / 2)[:, [0, 2]],
                         rng.uniform(v[:, [0, 2]].min(axis=0) - 0.02, v[:, [0, 2]].max(axis=0) + 0.02, (300, 2))])
    mask = rng.random(len(f)) < 0.7
    for face_mask in (None, mask):
        tri, bary = surface.frontal_hits(xz, face_mask)
        ids = np.arange(len(f)) if face_mask is None else np.flatnonzero(face_mask)
        corners = v[f[ids]]
        for i, q in enumerate(xz):
            a, b, c = corners[:, 0, [0, 2]], corners[:, 1, [0, 2]], corners[:, 2, [0, 2]]
            det = (b - a)[:, 0] * (c - a)[:, 1] - (b - a)[:, 1] * (c - a)[:, 0]
            ok = np.abs(det) > 1e-14
            d = q - a
            b1 = np.where(ok, (d[:, 0] * (c - a)[:, 1] - d[:, 1] * (c - a)[:, 0]) / np.where(ok, det, 1), -1)
            b2 = np.where(ok, ((b - a)[:, 0] * d[:, 1] - (b - a)[:, 1] * d[:, 0]) / np.where(ok, det, 1), -1)
            inside = ok & (b1 >= -1e-9) & (b2 >= -1e-9) & (1 - b1 - b2 >= -1e-9)
            if not inside.any():
                assert tri[i] == -1
                continue
            depth = np.where(inside, (1 - b1 - b2) * corners[:, 0, 1] + b1 * corners[:, 1, 1] + b2 * corners[:, 2, 1],
                             np.inf)
            assert tri[i] == ids[int(np.argmin(depth))], i
            assert np.allclose(bary[i], np.clip([1 - b1 - b2, b1, b2], 0, 1)[:, int(np.argmin(depth))]
                               / np.clip([1 - b1 - b2, b1, b2], 0, 1)[:, int(np.argmin(depth))].sum())
    assert (tri >= 0).sum() > 400 and (tri < 0).sum() > 20  # the check covered hits and misses


def test_dense_specs_declare_the_exact_ibug_points(resolved, mesh):
    """The dense specs' ``ibug68`` entries (GROUP@ANCHOR of keep_anchors curves) are the 68
    spec's own surface points, not nearest neighbours: protocol (a) compares like with like."""
    from facegen.generator.projection import surface_points

    v, f = mesh.vertices, mesh.faces
    s68 = resolved["68"]
    p68 = surface_points(v, f, s68.triangle[s68.ibug68], s68.bary[s68.ibug68])
    for name in ("243", "460", "490", "1001"):
        s = resolved[name]
        assert len(s.ibug68) == 68 and len(set(s.ibug68.tolist())) == 68, name
        p = surface_points(v, f, s.triangle[s.ibug68], s.bary[s.ibug68])
        assert np.abs(p - p68).max() < 1e-9, name


def test_keep_anchors_makes_every_anchor_a_sample(tmp_path, mesh):
    """A curve with keep_anchors passes through its anchors (the rest spread per segment by
    length); without it samples fall evenly wherever; GROUP@K names anchor K; too small a count
    and an anchor an open curve leaves out (ends: false) are one-line errors."""
    s68 = resolve_spec("68", mesh)
    jaw = [int(mesh.faces[t][np.argmax(b)]) for t, b in zip(s68.triangle[:17:4], s68.bary[:17:4])]  # 5 jaw vertices
    text = f"groups: {{c: {{anchors: {jaw}, count: 13, keep_anchors: true}}}}\nibug68: [c@0, c@2, c@4]"
    s = resolve_spec(str(write(tmp_path, text)), mesh)
    pos = np.einsum("kc,kcd->kd", s.bary, mesh.vertices[mesh.faces[s.triangle]])
    for k, i in zip((0, 2, 4), s.ibug68):
        assert np.linalg.norm(pos[i] - mesh.vertices[jaw[k]]) < 1e-12
    gaps = [np.linalg.norm(pos - mesh.vertices[a], axis=1).min() for a in jaw]
    assert max(gaps) < 1e-12  # every anchor is a sample
    plain = resolve_spec(str(write(tmp_path, text.replace(", keep_anchors: true", "").split("\n")[0], "p.yaml")), mesh)
    ppos = np.einsum("kc,kcd->kd", plain.bary, mesh.vertices[mesh.faces[plain.triangle]])
    assert max(np.linalg.norm(ppos - mesh.vertices[a], axis=1).min() for a in jaw[1:-1]) > 1e-4
    with pytest.raises(SpecError, match=r"groups.c.count: keep_anchors: count 4 is fewer than the 5 anchors"):
        resolve_spec(str(write(tmp_path, text.replace("count: 13", "count: 4"), "q.yaml")), mesh)
    with pytest.raises(SpecError, match=r"ibug68\[0\]: 'c@0': 'c' has no anchor 0 among its samples"):
        resolve_spec(str(write(tmp_path, text.replace("keep_anchors: true", "keep_anchors: true, ends: false"),
                               "r.yaml")), mesh)
