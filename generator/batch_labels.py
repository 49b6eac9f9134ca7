"""Landmarks of many samples at once from stored numbers: the writer's and relabel's labeler.

``project_landmarks`` (generator/projection.py) labels one image from its full posed mesh. Relabelling
a stored dataset must be much faster (thousands of samples per second), so this module computes the
same quantities in batches, and only at the vertices a spec touches: before the neck skinning the
head model is linear in identity coefficients and expression activations, the eye centres are
linear too, and the skinning is a per-vertex blend of a few per-sample transforms. The camera is
read back (K, R, t), not re-aimed, and visibility uses the stored depth map.

The writer labels with this module too, so relabelling with the same spec reproduces the stored
labels bit for bit. Every array op works row by row and matrix products run in fixed-size padded
blocks, so a sample's numbers do not depend on which other samples share its batch (shard size).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from facegen.generator.head_model import CHAIN_FRACTIONS, axis_angle_fractions, rotation_matrices
from facegen.generator.projection import DEPTH_TOLERANCE_M
from facegen.landmark_specs.resolve import ResolvedSpec

BLOCK = 32  # samples per padded block (fixed, so BLAS sees the same shapes whatever the batch)


@dataclass(frozen=True)
class SampleInputs:
    """What a batch of N stored samples contributes (the shard's /samples arrays and depth)."""

    identity: np.ndarray  # (N, C) float64 identity PCA coefficients (HeadModel.identity_from_params)
    expression: np.ndarray  # (N, E) float64 expression activations, model.expression_names order
    gaze: np.ndarray  # (N, 2) float64 gaze yaw, pitch degrees
    head_pose: np.ndarray  # (N, 3) float64 yaw, pitch, roll degrees
    K: np.ndarray  # (N, 3, 3) float64 intrinsics
    R: np.ndarray  # (N, 3, 3) float64 world -> camera rotation
    t: np.ndarray  # (N, 3) float64 world -> camera translation
    depth: np.ndarray  # (N, H, W) float16/32 rendered depth, metres, inf = background


class SparseHead:
    """The head model restricted to vertices ``ids``: ``posed(...) -> (N, S, 3)``."""

    def __init__(self, model, ids: np.ndarray):
        self.ids = ids = np.asarray(ids, np.int64)  # (S,) vertex ids
        nv = model.n_vertices
        cols = (ids[:, None] * 3 + np.arange(3)).ravel()  # (3S,) columns of the flat layout
        jcols = 3 * nv + np.arange(3 * len(model.chain_names))
        comps = model.components.astype(np.float64)
        mean = model.mean.astype(np.float64)
        expr = model.expressions.astype(np.float64).reshape(len(model.expression_names), -1)
        eyes = list(model._eyes)
        # Linear part: [1, identity, expression] @ basis -> vertices, joints, eye centres.
        eye_mean = [mean[: 3 * nv].reshape(-1, 3)[e].mean(0) for e in eyes]
        eye_comp = [comps[:, : 3 * nv].reshape(len(comps), -1, 3)[:, e].mean(1) for e in eyes]
        eye_expr = [expr.reshape(len(expr), -1, 3)[:, e].mean(1) for e in eyes]
        self._basis = np.concatenate([
            np.concatenate([mean[cols], mean[jcols], *eye_mean])[None],
            np.concatenate([comps[:, cols], comps[:, jcols], *eye_comp], 1),
            np.concatenate([expr[:, cols], np.zeros((len(expr), len(jcols))), *eye_expr], 1)])
        self._n_id, self._n_j = comps.shape[0], len(model.chain_names)
        self._eye_of = np.full(len(ids), -1)  # (S,) which eye (0, 1) a vertex belongs to, else -1
        for e, members in enumerate(eyes):
            self._eye_of[np.isin(ids, members)] = e
        self._weights = model.skin_weights[ids]  # (S, 1 + J)

    def posed(self, identity, expression, gaze, head_pose) -> np.ndarray:
        """``(N, S, 3)`` float64 posed positions, as ``HeadModel.vertices`` (to float round-off)."""
        n, s, nj = len(identity), len(self.ids), self._n_j
        coef = np.concatenate([np.ones((n, 1)), identity, expression], 1)
        flat = np.empty((n, self._basis.shape[1]))
        for a in range(0, n, BLOCK):
            block = np.zeros((BLOCK, coef.shape[1]))
            m = min(BLOCK, n - a)
            block[:m] = coef[a:a + m]
            flat[a:a + m] = (block @ self._basis)[:m]
        verts = flat[:, : 3 * s].reshape(n, s, 3)
        joints = flat[:, 3 * s: 3 * s + 3 * nj].reshape(n, nj, 3)
        centres = flat[:, 3 * s + 3 * nj:].reshape(n, 2, 3)
        rot = rotation_matrices(gaze[:, 0], gaze[:, 1], np.zeros(n))
        for e in (0, 1):
            sel = self._eye_of == e
            local = verts[:, sel] - centres[:, e:e + 1]
            verts[:, sel] = _apply(rot[:, None], local) + centres[:, e:e + 1]
        head = rotation_matrices(head_pose[:, 0], head_pose[:, 1], head_pose[:, 2])
        rs, ts = [np.broadcast_to(np.eye(3), (n, 3, 3))], [np.zeros((n, 3))]
        r_acc, t_acc = rs[0], ts[0]
        for j in range(nj):
            r_j = axis_angle_fractions(head, CHAIN_FRACTIONS[j])
            pivot = _apply(r_acc, joints[:, j]) + t_acc
            r_acc = r_j @ r_acc
            t_acc = _apply(r_j, t_acc - pivot) + pivot
            rs.append(r_acc)
            ts.append(t_acc)
        out = np.zeros_like(verts)
        for j in range(nj + 1):
            w = self._weights[:, j]
            used = np.flatnonzero(w)
            if len(used):
                moved = _apply(rs[j][:, None], verts[:, used]) + ts[j][:, None]
                out[:, used] += w[used, None] * moved
        return out


def _apply(rot: np.ndarray, p: np.ndarray) -> np.ndarray:
    """``rot (..., 3, 3) @ p (..., 3)`` by elementwise products (row-independent, no BLAS)."""
    return rot[..., 0] * p[..., 0:1] + rot[..., 1] * p[..., 1:2] + rot[..., 2] * p[..., 2:3]


def _bary(w: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """Barycentric combination: weights ``(..., 3)``, corners ``(N, ..., 3, 3)`` -> ``(N, ..., 3)``."""
    return w[..., 0:1] * corners[..., 0, :] + w[..., 1:2] * corners[..., 1, :] + w[..., 2:3] * corners[..., 2, :]


def _norm(v: np.ndarray) -> np.ndarray:
    """``(..., 3)`` -> ``(..., 1)`` Euclidean length."""
    return np.sqrt(v[..., 0:1] ** 2 + v[..., 1:2] ** 2 + v[..., 2:3] ** 2)


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(..., 3)`` cross product."""
    return np.stack([a[..., 1] * b[..., 2] - a[..., 2] * b[..., 1], a[..., 2] * b[..., 0] - a[..., 0] * b[..., 2],
                     a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]], -1)


def spec_vertex_ids(spec: ResolvedSpec, faces: np.ndarray) -> np.ndarray:
    """Sorted vertex ids a spec's landmarks, contour candidates and pupils use."""
    tris = np.concatenate([spec.triangle.ravel(), spec.contour_triangle.ravel(), spec.pupil_triangle.ravel()])
    return np.unique(faces[tris])


class BatchLabeler:
    """Labels of one resolved spec for batches of stored samples: ``label(inputs) -> dict``."""

    def __init__(self, spec: ResolvedSpec, model, tolerance: float = DEPTH_TOLERANCE_M):
        self.spec, self.tolerance = spec, tolerance
        faces = np.asarray(model.faces, np.int64)
        ids = spec_vertex_ids(spec, faces)
        self.head = SparseHead(model, ids)
        self._corners = lambda tri: np.searchsorted(ids, faces[np.asarray(tri)])  # (..., 3) local ids
        self._lm = self._corners(spec.triangle)  # (K, 3) local corner ids
        self._ct = self._corners(spec.contour_triangle)  # (S, C, 3)
        self._pu = self._corners(spec.pupil_triangle)  # (2, 3)

    def label(self, x: SampleInputs, chunk: int = 32) -> dict[str, np.ndarray]:
        """``shard_format.LABEL_FIELDS`` arrays for the N samples of ``x`` (N may be 0)."""
        n = len(x.identity)
        parts = [self._label(SampleInputs(*(getattr(x, f)[a:a + chunk] for f in SampleInputs.__dataclass_fields__)))
                 for a in range(0, n, chunk)] or [self._label_empty()]
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}

    def _label_empty(self) -> dict[str, np.ndarray]:
        k = self.spec.n_landmarks
        f4, b = np.float32, bool
        return dict(landmarks_2d=np.zeros((0, k, 2), f4), landmarks_2d_contour=np.zeros((0, k, 2), f4),
                    landmarks_3d=np.zeros((0, k, 3), f4), landmarks_3d_contour=np.zeros((0, k, 3), f4),
                    visible=np.zeros((0, k), b), self_occluded=np.zeros((0, k), b), out_of_frame=np.zeros((0, k), b),
                    pupils_2d=np.zeros((0, 2, 2), f4), pupils_3d=np.zeros((0, 2, 3), f4),
                    pupils_visible=np.zeros((0, 2), b))

    def _label(self, x: SampleInputs) -> dict[str, np.ndarray]:
        spec = self.spec
        v = self.head.posed(x.identity, x.expression, x.gaze, x.head_pose)  # (N, S, 3) world
        cam_v = _apply(x.R[:, None], v) + x.t[:, None]  # camera coordinates of the vertices
        cam = _bary(spec.bary, cam_v[:, self._lm])
        cam_c = cam.copy()
        if len(spec.contour_index):
            cam_c[:, spec.contour_index] = self._contour(cam_v)
        pcam = _bary(spec.pupil_bary, cam_v[:, self._pu])
        uv, uv_c, puv = self._project(cam, x.K), self._project(cam_c, x.K), self._project(pcam, x.K)
        depth = x.depth
        oof, occ = self._depth_test(uv, cam[..., 2], depth)
        p_oof, p_occ = self._depth_test(puv, pcam[..., 2], depth)
        f4 = np.float32
        return dict(landmarks_2d=uv.astype(f4), landmarks_2d_contour=uv_c.astype(f4), landmarks_3d=cam.astype(f4),
                    landmarks_3d_contour=cam_c.astype(f4), visible=~(oof | occ), self_occluded=occ, out_of_frame=oof,
                    pupils_2d=puv.astype(f4), pupils_3d=pcam.astype(f4), pupils_visible=~(p_oof | p_occ))

    @staticmethod
    def _project(cam: np.ndarray, K: np.ndarray) -> np.ndarray:
        """``(N, P, 3)`` camera points -> ``(N, P, 2)`` pixels (Camera.project's formula)."""
        return cam[..., :2] / cam[..., 2:3] * K[:, None, 0, 0, None] + K[:, None, :2, 2]

    def _contour(self, cam_v: np.ndarray) -> np.ndarray:
        """``(N, S, 3)`` camera points of the silhouette landmarks slid to the outline
        (projection._contour_points, in camera coordinates: the camera sits at the origin)."""
        spec = self.spec
        corners = cam_v[:, self._ct]  # (N, S, C, 3, 3)
        pts = _bary(spec.contour_bary, corners)
        normal = _cross(corners[..., 1, :] - corners[..., 0, :], corners[..., 2, :] - corners[..., 0, :])
        normal /= _norm(normal) + 1e-30
        to_cam = -pts / _norm(pts)
        facing = (normal * to_cam).sum(-1)  # (N, S, C)
        front = facing > 0
        c = facing.shape[2]
        k = np.where(front.any(-1), np.argmax(front, -1), c - 1)
        prev = np.maximum(k - 1, 0)
        take = lambda a, i: np.take_along_axis(a, i[..., None], axis=2)[..., 0]  # noqa: E731
        fa, fb = take(facing, prev), take(facing, k)
        with np.errstate(invalid="ignore", divide="ignore"):
            t = np.where((k > 0) & (fb > fa), -fa / (fb - fa), 1.0)
        t = np.clip(t, 0.0, 1.0)[..., None]
        pa = np.take_along_axis(pts, prev[..., None, None], axis=2)[:, :, 0]
        pb = np.take_along_axis(pts, k[..., None, None], axis=2)[:, :, 0]
        return (1 - t) * pa + t * pb

    def _depth_test(self, uv: np.ndarray, z: np.ndarray, depth: np.ndarray):
        """``(out_of_frame, self_occluded)`` ``(N, P)`` bool (projection._depth_test, batched)."""
        n, h, w = depth.shape
        oof = ((uv[..., 0] < 0) | (uv[..., 0] >= w) | (uv[..., 1] < 0) | (uv[..., 1] >= h) | (z <= 0)
               | ~np.isfinite(uv).all(-1))
        j0 = np.floor(np.nan_to_num(uv[..., 0]) - 0.5).astype(np.int64)
        i0 = np.floor(np.nan_to_num(uv[..., 1]) - 0.5).astype(np.int64)
        rows = np.arange(n)[:, None]
        nearest_far = np.full(z.shape, -np.inf)
        for di in (0, 1):
            for dj in (0, 1):
                d = depth[rows, np.clip(i0 + di, 0, h - 1), np.clip(j0 + dj, 0, w - 1)].astype(np.float64)
                nearest_far = np.maximum(nearest_far, d)
        occ = ~oof & (z > nearest_far + self.tolerance)
        return oof, occ
