"""Strand hair as plain numpy: where hair grows on the head model and the shape of its strands.

The Cycles backend turns these into Blender hair curves. Scalp hair is a few hundred *guide*
strands shaped here (style, parting, gravity, kept off the head); Blender's bundled CC0 hair node
groups grow the full head of hair from them on the head surface (Interpolate Hair Curves with the
scalp density mask below, then Clump, Curl, Frizz, Hair Curves Noise, Set Hair Curve Profile).
Eyebrows, eyelashes and beards are short strands placed here one by one.

Everything is a function of the posed vertices, the template and ``StrandParams``; the random
draws come from ``np.random.default_rng(params.seed)`` (the seed is drawn in the scene's
``strands`` section), so a scene renders the same hair every time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from facegen.generator import appearance
from facegen.generator.head_model import fit_rotation, vertex_normals

# Hair styles and their length range (m, root to tip along the strand).
STYLE_LENGTH_M = {"buzz": (0.004, 0.012), "short": (0.03, 0.07), "medium": (0.08, 0.16),
                  "long": (0.2, 0.4), "curly": (0.06, 0.2), "tied_back": (0.15, 0.3)}
BEARD_STYLES = ("none", "stubble", "moustache", "goatee", "short", "full")
# A moustache alone is kept short: its hairs grow down over the lip, and at the longest beard
# lengths (beard_length_m is drawn up to 4 cm) they hid the mouth.
MOUSTACHE_MAX_M = 0.015
GUIDE_POINTS = 12  # control points per scalp guide strand
GUIDES = 320  # scalp guide strands (Blender interpolates the full head of hair between them)
# Scalp hair keeps off the face: no guide point past its root lies below the top of the brows (plus
# this), in front of the ears and within FACE_HALF_WIDTH_M of the midline (give or take the few mm
# of the push off the skin that follows; the eyes' outer corners are at
# ~0.05 m, the cheekbones 0.075 m). Hair that would fall there (fringes, the far side of a deep
# parting, long hair falling forward) is steered to the side of its parting from STEER_M above
# that line on, and what still reaches it is moved out sideways: it frames the face. Before this,
# a quarter of the default scenes had guides hanging over the eyes, nose and mouth, drawn as a
# veil of thin streaks across the whole face.
FACE_TOP_ABOVE_BROWS_M = 0.005
FACE_HALF_WIDTH_M = 0.062
STEER_M = 0.03
# Blender grows the full head of hair between the guides (interpolation, clumps, frizz, noise), and
# a few of its strands still cross the face: those that reach within FACE_CLEAR_M of the midline
# below the face's top are left out (``strands_off_face``): 0-4 % of them in long and medium hair.
FACE_CLEAR_M = 0.05


@dataclass(frozen=True)
class Strands:
    """Curves of one hair system: ``points`` (N, K, 3) world positions root to tip, ``radius``
    (m, at the root; the tips taper)."""

    name: str  # scalp | brows | lashes | beard
    points: np.ndarray
    radius: float


def smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


class HairLayout:
    """What depends on the template only: its landmarks of the head (eyes, ears, crown) and the
    vertex masks where hair grows. ``scalp_weights(recession)`` is the scalp density mask."""

    def __init__(self, model):
        self.rest = model.vertices().astype(np.float64)
        self.faces = model.faces.astype(np.int64)
        region = {n: model.region_mask(n) for n in model.region_names}
        self.eye = 0.5 * (self.rest[region["eyeball_left"]].mean(0) + self.rest[region["eyeball_right"]].mean(0))
        ears = self.rest[region["ears"]]
        self.centre = np.array([0.0, ears[:, 1].mean(), ears[:, 2].mean()])
        self.grows = region["scalp"] | region["face_skin"] | region["neck"]  # never ears, lips, lids
        self.skull = np.flatnonzero(region["scalp"] | region["face_skin"] | region["ears"] | region["neck"]
                                    | region["torso"])
        self.skull_pose_set = np.flatnonzero(region["scalp"] | region["face_skin"])
        self.lips = self.rest[region["lips"]]
        self.weights = {"brows": appearance.brow_weights(model), "lashes": appearance.lash_weights(model),
                        "beard": appearance.beard_weights(model)}
        # where scalp hair may not go (template frame): below face_top, in front of face_back_y
        self.face_top = self.rest[self.weights["brows"] > 0.5, 2].max() + FACE_TOP_ABOVE_BROWS_M
        self.face_back_y = self.rest[region["ears"], 1].min()
        # The ponytail knot (tied_back), head frame: 1 cm behind the back of the skull, eye height.
        self.tie = np.array([0.0, self.rest[self.grows, 1].max() - self.centre[1] + 0.01,
                             self.eye[2] - self.centre[2] + 0.02])

    def scalp_weights(self, recession: float) -> np.ndarray:
        """``(V,)`` 0..1: scalp density. The hairline is a height around the head (0 at the front,
        180 degrees at the back): forehead, temples, sideburns in front of the ears, above the
        ears, nape; ``recession`` (m) lifts the forehead and temples."""
        v = self.rest
        az = np.degrees(np.abs(np.arctan2(v[:, 0] - self.centre[0], -(v[:, 1] - self.centre[1]))))
        knots = np.array([0.0, 40.0, 70.0, 85.0, 100.0, 130.0, 180.0])
        above_eye = np.array([0.066 + recession, 0.058 + 1.3 * recession, 0.04 + recession, -0.012, 0.016,
                              -0.03, -0.085])
        line = self.eye[2] + np.interp(az, knots, above_eye)
        return np.where(self.grows, smoothstep((v[:, 2] - line) / 0.008), 0.0)


def sample_surface(faces: np.ndarray, vertices: np.ndarray, weights: np.ndarray, n: int,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points on the triangles, with density ~ area x mean vertex weight: (face index (n,),
    barycentric coordinates (n, 3))."""
    tri = vertices[faces]
    area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    p = area * weights[faces].mean(axis=1)
    face = rng.choice(len(faces), size=n, p=p / p.sum())
    r = rng.random((n, 2))
    flip = r.sum(axis=1) > 1
    r[flip] = 1 - r[flip]
    return face, np.column_stack([1 - r.sum(axis=1), r])


def _nearest(points: np.ndarray, cloud: np.ndarray) -> np.ndarray:
    """Index into ``cloud`` of each point's nearest neighbour (brute force, in chunks)."""
    out = np.empty(len(points), np.int64)
    sq = (cloud ** 2).sum(axis=1)
    for s in range(0, len(points), 256):
        p = points[s:s + 256]
        out[s:s + 256] = np.argmin(sq[None, :] - 2 * p @ cloud.T, axis=1)
    return out


def comb(style: str, local: np.ndarray, part_x: float, comb_back: float, tie: np.ndarray) -> np.ndarray:
    """Unit direction (head frame: +x the subject's left, +y back, +z up) each scalp point's
    hair is combed toward, before gravity; ``local`` is the root in the head frame."""
    side = np.zeros_like(local)
    side[:, 0] = np.where(local[:, 0] >= part_x, 1.0, -1.0)
    back, down = np.array([0.0, 1.0, 0.0]), np.array([0.0, 0.0, -1.0])
    if style == "tied_back":
        d = tie - local
    elif style in ("buzz", "short"):
        d = comb_back * back + (1 - comb_back) * 0.8 * side + 0.4 * down
    else:
        d = (1 - comb_back) * side + comb_back * 0.7 * back + down
    return d / np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-9)


def over_face(layout: HairLayout, local: np.ndarray, half_width: float) -> np.ndarray:
    """``(N,)`` bool: which of ``local`` (N, 3) template-frame points lie over the face: below
    ``layout.face_top``, in front of ``layout.face_back_y``, within ``half_width`` of the midline."""
    return (local[:, 2] < layout.face_top) & (local[:, 1] < layout.face_back_y) & (np.abs(local[:, 0]) < half_width)


def keep_off_face(layout: HairLayout, local: np.ndarray, side: np.ndarray) -> np.ndarray:
    """``local`` (N, 3) points in the template frame; those over the face (``over_face`` within
    ``FACE_HALF_WIDTH_M``) moved sideways to ``FACE_HALF_WIDTH_M`` on ``side`` (+-1 per point)."""
    over = over_face(layout, local, FACE_HALF_WIDTH_M)
    out = local.copy()
    out[over, 0] = side[over] * FACE_HALF_WIDTH_M
    return out


def head_frame(layout: HairLayout, posed: np.ndarray):
    """``(rot, rest_centre, posed_centre)``: the posed skull's rotation and centres, so that a
    template-frame point ``x`` is ``(x - rest_centre) @ rot.T + posed_centre`` on the posed head."""
    posed = np.asarray(posed, np.float64)
    rot = fit_rotation(layout.rest[layout.skull_pose_set], posed[layout.skull_pose_set])
    return rot, layout.rest[layout.skull_pose_set].mean(0), posed[layout.skull_pose_set].mean(0)


def strands_off_face(layout: HairLayout, posed: np.ndarray, points: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """``(C,)`` bool: which of C strands (``points`` (N, 3) world positions, strand ``c`` being
    ``points[offsets[c]:offsets[c + 1]]``) stay off the face: none of their points lies below
    ``layout.face_top``, in front of ``layout.face_back_y`` and within ``FACE_CLEAR_M`` of the
    midline."""
    rot, rest_c, posed_c = head_frame(layout, posed)
    local = (np.asarray(points, np.float64) - posed_c) @ rot + rest_c
    over = over_face(layout, local, FACE_CLEAR_M)
    sizes = np.diff(offsets)
    hits = np.bincount(np.repeat(np.arange(len(sizes)), sizes), weights=over, minlength=len(sizes))
    return hits == 0


def grow_guides(layout: HairLayout, posed: np.ndarray, params, rng: np.random.Generator) -> np.ndarray:
    """``(GUIDES, GUIDE_POINTS, 3)`` scalp guide strands on the posed head: each leaves the scalp
    along its normal, bends toward the style's combing direction and under gravity (more for
    longer hair), keeps off the face (``keep_off_face``: steered to the side of its parting as it
    nears the brows) and is pushed back out to ``params.volume_m`` above the nearest head vertex."""
    posed = np.asarray(posed, np.float64)
    normals = vertex_normals(posed, layout.faces)
    weights = layout.scalp_weights(params.hairline_recession_m)
    face, bary = sample_surface(layout.faces, posed, weights, GUIDES, rng)
    idx = layout.faces[face]
    root = np.einsum("nk,nkd->nd", bary, posed[idx])
    n0 = np.einsum("nk,nkd->nd", bary, normals[idx])
    n0 /= np.linalg.norm(n0, axis=1, keepdims=True)
    rot, rest_c, posed_c = head_frame(layout, posed)
    local_root = np.einsum("nk,nkd->nd", bary, layout.rest[idx]) - layout.centre
    combed = comb(params.style, local_root, params.part_x, params.comb_back, layout.tie) @ rot.T
    tie_world = rot @ (layout.tie + layout.centre - rest_c) + posed_c
    tied = np.zeros(GUIDES, bool)
    length = params.length_m * rng.uniform(0.85, 1.15, size=GUIDES)
    step = (length / (GUIDE_POINTS - 1))[:, None]
    gravity = np.array([0.0, 0.0, -1.0]) * min(1.0, params.length_m / 0.15)
    cloud, cloud_n = posed[layout.skull], normals[layout.skull]
    pts = np.empty((GUIDES, GUIDE_POINTS, 3))
    pts[:, 0] = root
    d = n0 * 0.8 + combed * 0.6
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    volume = params.volume_m + (2.0 * params.curl_radius_m if params.style == "curly" else 0.0)
    off = np.minimum(volume, 0.3 * length)[:, None]
    side = np.where(local_root[:, 0] >= params.part_x, 1.0, -1.0)  # the side of the parting

    def to_local(x):
        return (x - posed_c) @ rot + rest_c

    for k in range(1, GUIDE_POINTS):
        p = pts[:, k - 1]
        near = _nearest(p, cloud)
        nrm = cloud_n[near]
        if params.style == "tied_back":  # toward the knot, then down from it
            tied |= np.linalg.norm(p - tie_world, axis=1) < 0.03
            want = np.where(tied[:, None], np.array([0.0, 0.0, -1.0]), _tangent(combed, nrm))
        else:
            want = _tangent(combed, nrm) + gravity * (k / GUIDE_POINTS)
        # nearing the face from above: turn toward the side of the parting
        lp = to_local(p)
        near_face = ((lp[:, 1] < layout.face_back_y) & (np.abs(lp[:, 0]) < FACE_HALF_WIDTH_M)) \
            * smoothstep((layout.face_top + STEER_M - lp[:, 2]) / STEER_M)
        want = want + 2.0 * (near_face * side)[:, None] * rot[:, 0]
        want /= np.maximum(np.linalg.norm(want, axis=1, keepdims=True), 1e-9)
        d = 0.55 * d + 0.45 * want
        d /= np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-9)
        q = p + step * d
        q = (keep_off_face(layout, to_local(q), side) - rest_c) @ rot.T + posed_c
        near = _nearest(q, cloud)
        h = ((q - cloud[near]) * cloud_n[near]).sum(axis=1, keepdims=True)
        q = q + np.clip(off - h, 0.0, None) * cloud_n[near]
        pts[:, k] = q
    return pts


def _tangent(direction: np.ndarray, normal: np.ndarray) -> np.ndarray:
    return direction - (direction * normal).sum(axis=1, keepdims=True) * normal


def short_strands(name: str, posed: np.ndarray, faces: np.ndarray, weights: np.ndarray, count: int,
                  length_m: float, direction: np.ndarray, lift: float, radius: float,
                  rng: np.random.Generator, points: int = 4) -> Strands:
    """``count`` short strands rooted where ``weights`` (V,) say (area x weight), leaving the skin
    at ``lift`` (0 along the skin .. 1 along the normal) toward ``direction`` ((V, 3) per vertex,
    or (3,)), bending back toward the skin (eyebrows, beards, lashes)."""
    posed = np.asarray(posed, np.float64)
    normals = vertex_normals(posed, faces)
    face, bary = sample_surface(faces, posed, weights, count, rng)
    idx = faces[face]
    root = np.einsum("nk,nkd->nd", bary, posed[idx])
    n = np.einsum("nk,nkd->nd", bary, normals[idx])
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    field = np.broadcast_to(direction, posed.shape)
    t = _tangent(np.einsum("nk,nkd->nd", bary, field[idx]) + rng.normal(0, 0.25, root.shape), n)
    t /= np.maximum(np.linalg.norm(t, axis=1, keepdims=True), 1e-9)
    length = length_m * rng.uniform(0.7, 1.2, size=(count, 1))
    s = np.linspace(0.0, 1.0, points)[None, :, None]
    bend = lift * (1 - s)  # leaves the skin at ``lift``, ends nearly along it
    path = (t[:, None] * (1 - bend) + n[:, None] * bend)
    path = path / np.linalg.norm(path, axis=2, keepdims=True)
    seg = np.concatenate([np.zeros((count, 1, 3)), np.cumsum(path[:, 1:], axis=1)], axis=1) / (points - 1)
    return Strands(name, root[:, None] + length[:, :, None] * seg, radius)



def beard_area(layout: HairLayout, style: str) -> np.ndarray:
    """``(V,)`` 0..1 where a beard of ``style`` grows (``appearance.beard_style_weights``)."""
    return appearance.beard_style_weights(layout.rest, layout.weights["beard"], layout.lips, style)


def face_strands(layout: HairLayout, posed: np.ndarray, scene, rng: np.random.Generator) -> list[Strands]:
    """Eyebrows, upper and lower eyelashes and the beard of ``scene`` as short strands (the beard
    system is empty without a beard, and for stubble, which stays a skin tint from
    ``appearance``)."""
    p = scene.strands
    posed = np.asarray(posed, np.float64)
    rot = fit_rotation(layout.rest[layout.skull_pose_set], posed[layout.skull_pose_set])
    w, v = layout.weights, layout.rest
    outward = np.zeros_like(v)
    outward[:, 0] = np.where(v[:, 0] >= 0, 1.0, -1.0)  # brows grow toward the temples, a little up
    outward[:, 2] = 0.35
    brows = short_strands("brows", posed, layout.faces, w["brows"], int(1000 * scene.hair.eyebrow_density),
                          p.brow_length_m, outward @ rot.T, 0.2, 4e-5, rng)
    upper_lid = v[:, 2] > layout.eye[2]
    upper = short_strands("lashes", posed, layout.faces, w["lashes"] * upper_lid, 500, p.lash_length_m,
                          np.array([0.0, -1.0, 0.6]) @ rot.T, 0.6, 6e-5, rng)
    lower = short_strands("lashes", posed, layout.faces, w["lashes"] * ~upper_lid, 200, 0.5 * p.lash_length_m,
                          np.array([0.0, -1.0, -0.6]) @ rot.T, 0.6, 2.5e-5, rng)
    lashes = Strands("lashes", np.concatenate([upper.points, lower.points]), upper.radius)
    if not scene.hair.beard or p.beard_style in ("none", "stubble"):
        beard = Strands("beard", np.zeros((0, 6, 3)), 0.0)
    else:
        length = min(p.beard_length_m, MOUSTACHE_MAX_M) if p.beard_style == "moustache" else p.beard_length_m
        beard = short_strands("beard", posed, layout.faces, beard_area(layout, p.beard_style),
                              int(8000 * p.beard_density), length, np.array([0.0, -0.3, -1.0]) @ rot.T,
                              0.35, 5e-5, rng, points=6)
    return [brows, lashes, beard]
